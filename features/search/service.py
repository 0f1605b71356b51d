"""Search: parse `q`, widen it with completions and spelling fixes, run it, shape the page."""
from __future__ import annotations

import html
import re

from psycopg import AsyncConnection

from . import cursor, queries
from .fuzzy import allowed_edits, edit_distance, prefix_distance
from .schemas import SearchHit, SearchPage
from .syntax import Operand, combine, conditions, grouped, match_any, parse, quote_lexeme, required

MAX_CORRECTIONS = 3
# Articles holding every word group (`a b or c` is two) come first, as users of a search box
# expect. Up to this many groups they are also looked up first in the indexes; a longer
# query's AND of many common words costs more than the rest of the search (at 1M articles,
# natural queries' p95 went 72 -> 116 ms), and its articles holding every word hold its most
# informative ones, so they are among its candidates anyway.
ALL_WORDS_FIRST = 3
_LITERAL = re.compile(r"'((?:[^']|'')*)'")
# How English words go on past their stem: `runnin` (run+n+in...) and `organiz` (organ+iz...)
# are on their way to `running` and `organization`; `reciev` is not on its way from `rec`.
SUFFIXES = ("ing", "ed", "er", "es", "est", "ly", "ation", "ization", "ize", "ise", "ment",
            "ness", "ies", "ied", "able", "ible", "ful", "ity", "ive", "ous", "al", "s")


def corrections(operand: Operand, found: queries.Analysis) -> list[str]:
    """Vocabulary words within the allowed edits of an unknown word, closest then commonest.
    The last word is compared with word beginnings: it may be both misspelt and unfinished."""
    if found.lexeme is None or not found.similar_words:
        return []
    typed = found.lexeme
    limit = allowed_edits(operand.text)
    measure = prefix_distance if operand.last_word else edit_distance
    scored = [
        (measure(typed, word), -ndoc, word)
        for word, ndoc in zip(found.similar_words, found.similar_ndocs, strict=True)
    ]
    return [word for dist, _, word in sorted(scored) if dist <= limit][:MAX_CORRECTIONS]


def stems_run_past(found: queries.Analysis) -> list[str]:
    """Stems the unfinished last word has run past with what looks like an English suffix."""
    typed = found.lexeme or ""
    out = []
    for stem in found.stems:
        rest = typed[len(stem) :]
        rest = rest[1:] if rest[:1] == stem[-1:] else rest  # doubled consonant: run-n-ing
        if any(suffix.startswith(rest) for suffix in SUFFIXES):
            out.append(stem)
    return out[:1]


def expression(operand: Operand, found: queries.Analysis, base: str) -> str:
    """The operand's tsquery text: `base` (PostgreSQL's reading of it), or-ed with completions
    and corrections."""
    alternatives = [base] if base else []
    extra = found.completions + stems_run_past(found) + corrections(operand, found)
    alternatives += [quote_lexeme(word) for word in dict.fromkeys(extra)]
    return " | ".join(alternatives)


def snippet(raw: str) -> str:
    """HTML-escape the headline, then turn the match sentinels into <mark> tags."""
    text = raw.replace("\x04", "<").replace("\x05", ">")
    return html.escape(text).replace("\x02", "<mark>").replace("\x03", "</mark>")


def lexemes(expr: str) -> list[str]:
    """The lexemes of a tsquery text as PostgreSQL writes it ('a' & 'b' <-> 'c')."""
    return [m.replace("''", "'").replace("\\\\", "\\") for m in _LITERAL.findall(expr)]


def scored_terms(parts: list[tuple[Operand, str]]) -> list[queries.Term]:
    """What BM25F scores: one slot per plain-word group (its alternatives: completions,
    corrections, `or`; an article counts the best of them), one per word of a phrase."""
    terms: list[queries.Term] = []
    slot = 0
    for group in grouped(parts):
        optional = not required(group)
        for operand, expr in group:
            if operand.negated:
                continue
            for word in lexemes(expr):
                terms.append(queries.Term(word, slot, optional))
                slot += operand.phrase
        slot += 1
    return terms


def build_query(operands: list[Operand], found: list[queries.Analysis]) -> queries.Query | None:
    """The tsquery texts for the operands; None when nothing positive is left to match."""
    pairs = list(zip(operands, found, strict=True))
    parts = [(op, expr) for op, f in pairs if (expr := expression(op, f, f.tsq))]
    tsq = match_any(parts)
    if not tsq:
        return None
    wanted = match_any([(op, expr) for op, expr in parts if not op.negated])
    # Phrases loosened to AND, exclusions kept as they are: still a superset of tsq.
    loose = [
        (op, e) for op, f in pairs if (e := expression(op, f, f.tsq if op.negated else f.loose))
    ]
    groups = sum(1 for group in grouped(parts) if not all(op.negated for op, _ in group))
    return queries.Query(
        tsq=tsq,
        wanted=wanted,
        loose=match_any(loose),
        every=combine(parts),
        every_loose=combine(loose),
        conditions=conditions(loose) or None,
        negated=any(op.negated for op in operands),
        terms=scored_terms(parts),
        every_first=groups <= ALL_WORDS_FIRST,
    )


async def search(db: AsyncConnection, q: str, limit: int, after: str | None) -> SearchPage:
    """One page of results for `q` after the position in cursor `after`."""
    operands = parse(q)
    if not operands:
        return SearchPage(items=[], next_cursor=None)
    found = await queries.analyze(db, operands)
    key = found[0].cursor_key
    position = cursor.decode(key, q, after) if after is not None else None
    query = build_query(operands, found)
    if query is None:
        return SearchPage(items=[], next_cursor=None)
    rows = await queries.search(
        db, query, limit + 1, (position.rank, position.id) if position else None
    )
    items = [
        SearchHit(id=r.id, title=r.title, slug=r.slug, snippet=snippet(r.snippet), rank=r.rank)
        for r in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = cursor.encode(key, q, cursor.Position(last.rank, last.id))
    return SearchPage(items=items, next_cursor=next_cursor)
