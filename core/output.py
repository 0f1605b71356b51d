"""A route's response as FastAPI builds it (used by `core.routing.FastRoute`): the route's own
`response_field` validates the return value (errors located at "response") and filters it to
the model's fields; then the JSON is written.

FastAPI writes it with pydantic-core (`TypeAdapter.dump_json`). For a response model that is a
TypedDict (or a list of one) holding only ints, strings, booleans, None, datetimes and more of
the same (no aliases, exclusions, validators, serialisers or pydantic config anywhere in it) and
a route without include/exclude options, the validated value is plain dicts and lists, and
orjson writes the same bytes (UTC as "Z", datetimes to the microsecond, the same escapes;
`tests/test_output.py` compares them) in less time: in-process (`make bench-cpu`, same
hour), a GET by id 318 -> 297 us CPU, the first page of 20 articles 603 -> 567, the check
below included.

The two writers differ on one kind of value: a datetime whose UTC offset is not whole minutes
(a zone's historical local mean time, +00:19:32 in Amsterdam until 1937) or whose tzinfo
misbehaves. Each datetime in the value is checked before orjson writes it (an identity test
for UTC, else its offset): any such value, and any value orjson refuses (an int past 64 bits),
is written by pydantic-core, as in FastAPI.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import NoneType, UnionType
from typing import Annotated, Any, Union, get_args, get_origin
from zoneinfo import ZoneInfo

import orjson
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import ResponseValidationError
from fastapi.responses import JSONResponse
from fastapi.utils import is_body_allowed_for_status_code
from pydantic.fields import FieldInfo
from starlette.responses import Response
from typing_extensions import get_type_hints, is_typeddict

Check = Callable[[Any], bool]  # does orjson write this value as pydantic-core would?
_SCALARS = (int, str, bool, NoneType)
# What a class statement gives every TypedDict: anything more (a decorated serialiser or
# validator, `__get_pydantic_core_schema__`, `__pydantic_config__`) changes what pydantic does.
_TYPEDDICT_ATTRS = frozenset({
    "__annotations__", "__closed__", "__dict__", "__doc__", "__extra_items__", "__module__",
    "__mutable_keys__", "__optional_keys__", "__orig_bases__", "__readonly_keys__",
    "__required_keys__", "__total__", "__weakref__", "__qualname__", "__parameters__",
})
# Held here, so the zones psycopg is handed for a UTC server are these very objects.
_UTC = frozenset({UTC, ZoneInfo("UTC"), ZoneInfo("Etc/UTC")})
_UTC_IDS = frozenset(map(id, _UTC))  # compared by identity: a tzinfo's own __hash__ never runs
_MINUTE = timedelta(minutes=1)


def _always(_: Any) -> bool:
    return True


def _whole_minutes(value: Any) -> bool:
    if not isinstance(value, datetime) or value.tzinfo is None:
        return True
    try:  # a tzinfo is anyone's code: whatever it does, pydantic-core then decides
        if value.tzinfo in _UTC:
            return True
        offset = value.utcoffset()  # datetime checks what the tzinfo returns
    except Exception:  # noqa: BLE001
        return False
    return offset is not None and not offset % _MINUTE


def plain_json(annotation: Any) -> Check | None:
    """A check for values of this type when orjson writes them byte for byte as pydantic-core
    does (see module doc), else None."""
    return _plain(annotation, frozenset())


def _plain(annotation: Any, seen: frozenset[Any]) -> Check | None:
    if annotation in _SCALARS:
        return _always
    if annotation is datetime:
        return _whole_minutes
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _plain(args[0], seen) if all(map(_plain_field, args[1:])) else None
    if origin in (Union, UnionType):  # of scalars and datetimes only
        if not all(arg in _SCALARS or arg is datetime for arg in args):
            return None
        return _whole_minutes if datetime in args else _always
    if origin is list and len(args) == 1:
        item = _plain(args[0], seen)
        if item is None or item is _always:
            return item
        return lambda values: all(map(item, values))
    if is_typeddict(annotation) and annotation not in seen and _plain_class(annotation):
        checks = {}
        for key, hint in get_type_hints(annotation, include_extras=True).items():
            check = _plain(hint, seen | {annotation})
            if check is None:
                return None
            if check is not _always:
                checks[key] = check
        return _fields(checks) if checks else _always
    return None


def _fields(checks: dict[str, Check]) -> Check:
    """One loop over the fields that need a check (a page runs it once per item, so no
    generator and, for the usual datetimes-only item, no call per field that is UTC)."""
    if set(checks.values()) == {_whole_minutes}:
        keys = tuple(checks)

        def datetimes(value: Any) -> bool:
            for key in keys:
                item = value.get(key)
                if item is not None and not (
                    item.__class__ is datetime and id(item.tzinfo) in _UTC_IDS
                ) and not _whole_minutes(item):
                    return False
            return True

        return datetimes
    pairs = tuple(checks.items())

    def fields(value: Any) -> bool:
        for key, check in pairs:
            if not check(value.get(key)):
                return False
        return True

    return fields


def _plain_class(cls: type) -> bool:
    """The TypedDict and every TypedDict it extends hold fields and nothing else."""
    return set(vars(cls)) <= _TYPEDDICT_ATTRS and all(
        _plain_class(base) for base in getattr(cls, "__orig_bases__", ()) if is_typeddict(base)
    )


def _plain_field(metadata: Any) -> bool:
    """`Field(...)` with a description or annotated-types constraints (ge, max_length) only: no
    alias, no exclusion, no validator or serialiser (which may hand the writer anything)."""
    if not isinstance(metadata, FieldInfo):
        return False
    renamed = metadata.alias or metadata.serialization_alias or metadata.validation_alias
    excluded = metadata.exclude or getattr(metadata, "exclude_if", None) is not None
    constraints = all(type(m).__module__ == "annotated_types" for m in metadata.metadata)
    return not renamed and not excluded and constraints


class Output:
    """Validates, filters and writes one route's return value (see module doc)."""

    def __init__(self, route: Any) -> None:
        self.status = route.status_code or 200
        self.field = route.response_field
        self.options = {
            "include": route.response_model_include, "exclude": route.response_model_exclude,
            "by_alias": route.response_model_by_alias,
            "exclude_unset": route.response_model_exclude_unset,
            "exclude_defaults": route.response_model_exclude_defaults,
            "exclude_none": route.response_model_exclude_none,
        }
        options = any(value for key, value in self.options.items() if key != "by_alias")
        self.check = (
            None if self.field is None or options
            else plain_json(self.field.field_info.annotation)
        )

    def write(self, value: Any) -> bytes:
        if self.check is not None and self.check(value):
            try:
                return orjson.dumps(value, option=orjson.OPT_UTC_Z)
            except TypeError:  # orjson.JSONEncodeError: an int past 64 bits
                pass
        return bytes(self.field.serialize_json(value, **self.options))

    def response(self, content: Any, sub: Response | None) -> Response:
        if isinstance(content, Response):
            return content
        status = sub.status_code if sub is not None and sub.status_code else self.status
        if self.field is None:
            body = JSONResponse(jsonable_encoder(content)).body
        else:
            value, errors = self.field.validate(content, {}, loc=("response",))
            if errors:
                raise ResponseValidationError(errors=errors, body=content)
            body = self.write(value)
        if not is_body_allowed_for_status_code(status):
            body = b""
        response = Response(body, status, media_type="application/json")
        if sub is not None:
            response.raw_headers.extend(sub.raw_headers)
        return response
