"""HTML fragments from feeds turned into readable plain text, by an HTML parser (selectolax)."""
from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser

_DROPPED = ["script", "style", "noscript", "template", "iframe", "object", "svg", "head"]
_PARAGRAPHS = (
    "p, div, section, article, header, footer, aside, blockquote, pre, table, ul, ol, dl, "
    "figure, h1, h2, h3, h4, h5, h6, hr"
)
_LINES = "br, li, tr, dt, dd, figcaption"
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def html_to_text(html: str) -> str:
    """Visible text of `html`: entities decoded, scripts and styles dropped, paragraphs kept
    apart by a blank line and line-level elements (br, li) by a newline."""
    if "<" not in html and "&" not in html:
        return tidy(html)
    tree = LexborHTMLParser(html)
    tree.strip_tags(_DROPPED)
    for node in tree.css(_PARAGRAPHS):
        node.insert_before("\n\n")
        node.insert_after("\n\n")
    for node in tree.css(_LINES):
        node.insert_after("\n")
    root = tree.body or tree.root
    return tidy(root.text(separator="") if root is not None else "")


def tidy(text: str) -> str:
    """Whitespace normalised: runs of spaces collapsed, lines trimmed, at most one blank line."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
