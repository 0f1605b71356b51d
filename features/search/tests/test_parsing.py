"""The query syntax and edit distances, without a database."""
from __future__ import annotations

from features.search.fuzzy import edit_distance, prefix_distance
from features.search.syntax import Operand, combine, parse, quote_lexeme


def test_parse_reads_phrases_or_and_exclusions():
    ops = parse('big "red fox" or -cat -"lazy dog" run')
    assert ops == [
        Operand("big"),
        Operand("red fox", phrase=True),
        Operand("cat", negated=True, after_or=True),
        Operand("lazy dog", phrase=True, negated=True),
        Operand("run", last_word=True),
    ]


def test_combine_binds_or_tighter_and_needs_a_positive_group():
    a, b, c = Operand("a"), Operand("b", after_or=True), Operand("c", negated=True)
    d, e = Operand("d"), Operand("e", negated=True, after_or=True)
    assert combine([(d, "'d'"), (a, "'a'"), (b, "'b'"), (c, "'c'")]) == (
        "(('d')) & (('a') | ('b')) & (!('c'))"
    )
    assert combine([(c, "'c'")]) == ""
    assert combine([(d, "'d'"), (e, "'e'")]) == ""


def test_quote_lexeme_escapes_quotes_and_backslashes():
    assert quote_lexeme("it's\\") == "'it''s\\\\'"


def test_edit_distance_counts_a_swap_as_one():
    assert edit_distance("serch", "search") == 1
    assert edit_distance("postgrse", "postgres") == 1
    assert edit_distance("srch", "search") == 2
    assert prefix_distance("postgrs", "postgresql") == 1


def test_only_suffix_like_endings_run_past_a_stem():
    from features.search.queries import Analysis
    from features.search.service import stems_run_past

    def found(lexeme: str, stems: list[str]) -> Analysis:
        return Analysis("k", f"'{lexeme}'", f"'{lexeme}'", lexeme, [], [], [], stems)

    assert stems_run_past(found("runnin", ["run"])) == ["run"]
    assert stems_run_past(found("organiz", ["organ"])) == ["organ"]
    assert stems_run_past(found("reciev", ["rec"])) == []
