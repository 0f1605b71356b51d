"""Web-search syntax: `q` split into operands (words, "phrases", -exclusions, `or`)."""
from __future__ import annotations

import re
from dataclasses import dataclass

# A quoted phrase (the closing quote may be missing), or a run of non-space, non-quote text.
_TOKEN = re.compile(r'(-?)"([^"]*)"?|([^\s"]+)')


@dataclass(frozen=True)
class Operand:
    """One thing to match: a word or a phrase, maybe excluded, joined to the previous one."""

    text: str
    phrase: bool = False
    negated: bool = False
    after_or: bool = False
    last_word: bool = False

    @property
    def plain_word(self) -> bool:
        return not self.phrase and not self.negated


def parse(q: str) -> list[Operand]:
    """Operands in order: AND by default, `or` between two operands, a leading `-` excludes."""
    operands: list[Operand] = []
    pending_or = False
    for match in _TOKEN.finditer(q):
        minus, phrase, word = match.groups()
        if word is not None:
            if word.lower() == "or":
                pending_or = bool(operands)
                continue
            negated = word.startswith("-")
            text = word.lstrip("-")
            if not text:
                continue
            operand = Operand(text, negated=negated, after_or=pending_or)
        else:
            if not phrase.strip():
                continue
            operand = Operand(phrase, phrase=True, negated=bool(minus), after_or=pending_or)
        operands.append(operand)
        pending_or = False
    if operands and operands[-1].plain_word:
        last = operands[-1]
        operands[-1] = Operand(last.text, after_or=last.after_or, last_word=True)
    return operands


def quote_lexeme(lexeme: str) -> str:
    """A lexeme as a tsquery literal: quoted, with quotes doubled and backslashes escaped."""
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


Group = list[tuple[Operand, str]]


def grouped(parts: list[tuple[Operand, str]]) -> list[Group]:
    """Operand expressions in groups: `or` joins an operand to the group before it."""
    groups: list[Group] = []
    for operand, expr in parts:
        if operand.after_or and groups:
            groups[-1].append((operand, expr))
        else:
            groups.append([(operand, expr)])
    return groups


def required(group: Group) -> bool:
    """A group with a phrase or an exclusion is a condition; plain words are only wishes."""
    return any(op.phrase or op.negated for op, _ in group)


def _text(group: Group) -> str:
    return "(" + " | ".join(f"!({e})" if op.negated else f"({e})" for op, e in group) + ")"


def _positive(groups: list[Group]) -> bool:
    return any(all(not operand.negated for operand, _ in group) for group in groups)


def combine(parts: list[tuple[Operand, str]]) -> str:
    """Join operand expressions into one tsquery text that holds every group: `or` binds
    tighter than the implied AND, as in web search engines (`postgres index or indexes` =
    postgres AND (index OR indexes)).
    '' unless some group is wholly positive: the index can only find rows by what they hold."""
    groups = grouped(parts)
    if not _positive(groups):
        return ""
    return " & ".join(_text(group) for group in groups)


def match_any(parts: list[tuple[Operand, str]]) -> str:
    """What an article must hold to be a result: every phrase and exclusion group, and at
    least one of the plain-word groups (`a b "c d" -e` = "c d" AND NOT e AND (a OR b))."""
    groups = grouped(parts)
    if not _positive(groups):
        return ""
    clauses = [_text(group) for group in groups if required(group)]
    wishes = [_text(group) for group in groups if not required(group)]
    if wishes:
        clauses.append("(" + " | ".join(wishes) + ")")
    return " & ".join(clauses)


def conditions(parts: list[tuple[Operand, str]]) -> str:
    """The phrase and exclusion groups alone ('' when there are none)."""
    return " & ".join(_text(group) for group in grouped(parts) if required(group))
