"""HTML fragments from feeds turned into readable plain text, by an HTML parser (selectolax)."""
from __future__ import annotations

import html
import re

from selectolax.lexbor import LexborHTMLParser

_DROPPED = ["script", "style", "noscript", "template", "iframe", "svg", "head"]
# Kept for their fallback content, which is text meant for readers that cannot show the
# object; dropping them would drop every word after an unclosed <object>.
_UNWRAPPED = ["object", "embed", "param"]
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
    tree.unwrap_tags(_UNWRAPPED)
    for node in tree.css(_PARAGRAPHS):
        node.insert_before("\n\n")
        node.insert_after("\n\n")
    for node in tree.css(_LINES):
        node.insert_after("\n")
    root = tree.body or tree.root
    return tidy(root.text(separator="") if root is not None else "")


_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def decode_entities(text: str) -> str:
    """Character references (`&#8217;`, `&amp;`) in plain text decoded, others left as they are.

    Only the complete `&...;` forms: a bare `&` or `AT&T` is text. A reference to a surrogate
    or an invalid code point becomes U+FFFD (html.unescape's rule), never a lone surrogate.
    """
    if "&" not in text:
        return text
    return _ENTITY.sub(lambda match: html.unescape(match.group()), text)


# Tags of HTML elements: plain text that holds one is HTML declared as text (common in feeds).
_HTML_TAG = re.compile(
    r"</?(?:a|abbr|b|big|blockquote|br|center|cite|code|dd|del|div|dl|dt|em|embed|font|"
    r"h[1-6]|hr|i|iframe|img|ins|kbd|li|link|meta|object|ol|p|pre|q|s|script|small|span|"
    r"strike|strong|style|sub|sup|table|tbody|td|th|thead|tr|tt|u|ul)(?:\s[^<>]*)?/?>",
    re.IGNORECASE,
)


def plain_to_text(text: str) -> str:
    """Plain text from a feed: entities decoded (feeds often escape twice), whitespace tidied;
    read as HTML when it holds HTML tags (`<b>`, `<br />`, `<script>`), which feeds often
    declare as text. Other angle brackets (`<x>`, `a < b`) stay: they are the text."""
    if _HTML_TAG.search(text):
        return html_to_text(text)
    return tidy(decode_entities(text))


def tidy(text: str) -> str:
    """Whitespace normalised: runs of spaces collapsed, lines trimmed, at most one blank line."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
