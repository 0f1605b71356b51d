"""XML bombs and external entities refused before feedparser sees the document.

expat reads the prolog only (it stops at the root element), with no handler that could
load an external entity or DTD. A document is refused (422, `unsafe_xml`) when its DTD
declares an external general entity (SYSTEM or PUBLIC), an internal parameter entity,
an entity whose value refers to another entity (billion laughs), or entities whose
references would expand to more than EXPANSION_MAX characters (quadratic blowup). Nothing
is expanded here, so memory stays bounded by the document itself. An external parameter
entity (a DTD's entity set) is inert: neither expat here nor feedparser's parser fetches
it. A prolog expat cannot read (an encoding it does not know, broken markup) is refused
when it declares any entity at all.
"""
from __future__ import annotations

import re
from typing import NoReturn
from xml.parsers import expat

from .errors import UnsafeXml

ENTITIES_MAX = 64
EXPANSION_MAX = 1_000_000  # characters all entity references together may expand to
_CHARACTER_REFERENCE = re.compile(r"&#(?:[0-9]+|x[0-9a-fA-F]+);")
# "<!ENTITY" in an ASCII-compatible encoding or in UTF-16 (either byte order).
_ANY_ENTITY = re.compile(rb"<\x00?!\x00?E\x00?N\x00?T\x00?I\x00?T\x00?Y|\x00<\x00!\x00E", re.I)


class _RootReached(Exception):
    """The prolog is over: nothing after the root element's start can declare entities."""


def check_entities(body: bytes) -> None:
    """Raise UnsafeXml when the document's DTD declares entities that are not inert."""
    if not _ANY_ENTITY.search(body):
        return
    declared: dict[str, int] = {}

    def declaration(name: str, is_parameter: int, value: str | None, base: str | None,
                    system_id: str | None, public_id: str | None,
                    notation: str | None) -> None:
        external = system_id is not None or public_id is not None
        if external and is_parameter:
            return  # an entity set (e.g. XHTML's Latin-1): inert, no parser here fetches it
        if external:
            _refuse(f"declares the external entity {name!r}")
        if is_parameter:
            _refuse(f"declares the parameter entity {name!r}")
        text = _CHARACTER_REFERENCE.sub("x", value or "")
        if "&" in text or "%" in text:
            _refuse(f"entity {name!r} refers to other entities")
        declared[name] = len(value or "")
        if len(declared) > ENTITIES_MAX:
            _refuse(f"declares more than {ENTITIES_MAX} entities")

    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.EntityDeclHandler = declaration
    parser.StartElementHandler = _stop
    try:
        parser.Parse(body, True)
    except _RootReached:
        pass
    except expat.ExpatError:
        _refuse("declares entities in a prolog that cannot be checked")
    _check_expansion(body, declared)


def _check_expansion(body: bytes, declared: dict[str, int]) -> None:
    if declared and body[:4].count(b"\x00"):
        _refuse("declares entities in a UTF-16 or UTF-32 document")
    expansion = sum(size * body.count(f"&{name};".encode()) for name, size in declared.items())
    if expansion > EXPANSION_MAX:
        _refuse(f"entity references would expand to {expansion:,} characters")


def _stop(name: str, attributes: object) -> NoReturn:
    raise _RootReached


def _refuse(reason: str) -> NoReturn:
    raise UnsafeXml(f"unsafe XML: the document {reason}")
