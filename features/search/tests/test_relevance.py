"""Relevance: any informative word finds articles, rare words weigh more, every word first
for a short query, the title as a weighted field (BM25F), candidates by the rarest words and
by the most informative words held."""
from __future__ import annotations

from features.search.tests.conftest import ids


async def test_natural_query_without_an_article_holding_every_word(api, add, word):
    rare = await add("Notes", f"Cataloguing {word}rare collections in small libraries.")
    common = [await add(f"Note {n}", f"A remark on {word}common things.") for n in range(4)]
    found = await ids(api, f"how do libraries handle {word}rare and {word}common {word}nowhere")
    assert found[0] == rare
    assert set(common) <= set(found)


async def test_a_rare_word_outranks_a_common_one(api, add, word):
    for n in range(5):
        await add(f"Filler {n}", f"Filler text with {word}common in it.")
    common = await add("Common", f"Text with {word}common in it.")
    rare = await add("Rare", f"Text with {word}rare in it.")
    found = await ids(api, f"{word}common {word}rare")
    assert found[0] == rare
    assert found.index(rare) < found.index(common)


async def test_articles_holding_every_word_of_a_short_query_come_first(api, add, word):
    for n in range(5):
        await add(f"Filler {n}", f"Text with {word}common in it.")
    repeated = await add("Repeated", f"{word}rare {word}rare {word}rare {word}rare {word}rare.")
    both = await add("Both", f"Once {word}rare and once {word}common, in a longer body of text.")
    found = await ids(api, f"{word}rare {word}common")
    assert found[:2] == [both, repeated]


async def test_the_title_is_a_weighted_field_not_a_flat_bonus(api, add, word):
    in_title = await add(f"Once {word} in a title", "A body about something else entirely.")
    in_body = await add("Another", f"{word} {word} {word} {word} {word} {word} {word} {word}.")
    assert await ids(api, word) == [in_body, in_title]


async def test_candidates_come_by_the_rarest_word_first(api, add, word, monkeypatch):
    from features.search import queries

    monkeypatch.setattr(queries, "CANDIDATES", 3)
    for n in range(6):
        await add(f"{word}common {n}", f"{word}common again.")
    rare = await add("Rare", f"Only {word}rare here.")
    assert rare in await ids(api, f"{word}common {word}rare")


async def test_candidates_hold_the_most_informative_words_not_the_rarest_alone(
    api, add, word, monkeypatch
):
    """Three articles hold only the word looked up first (the rarest; here a tie, broken by
    spelling) and would fill a cap of three; the one holding two other words holds more
    information and must still be ranked, first. Each word is held by exactly the cap's three
    articles, so no word's lookup is cut short: which hits a lookup cut at the cap returns is
    the index's order, which other tests' deletes and inserts shuffle."""
    from features.search import queries

    monkeypatch.setattr(queries, "CANDIDATES", 3)
    monkeypatch.setattr(queries, "GATHER", 4)
    both = await add("Both", f"On {word}beta and {word}gamma.")
    for n in range(2):
        await add(f"Beta {n}", f"Only {word}beta.")
        await add(f"Gamma {n}", f"Only {word}gamma.")
    rarest = [await add(f"Alpha {n}", f"Only {word}alpha.") for n in range(3)]
    found = await ids(api, f"{word}alpha {word}beta {word}gamma")
    assert found[0] == both
    assert set(found) & set(rarest)


async def test_articles_holding_every_word_of_a_long_query_come_first(api, add, word):
    """A question of many words: the one article holding all of them outranks one that
    repeats the rarest of them, though BM25F alone would put that one first."""
    words = [f"{word}{w}" for w in ("alpha", "beta", "gamma", "delta", "epsilon")]
    for n in range(5):
        await add(f"Filler {n}", " ".join(words[1:]))
    repeated = await add(
        f"{words[0]} {words[0]}", " ".join([words[0]] * 12 + words[1:3]) + "."
    )
    every = await add("Every", "A longer body that mentions " + " and ".join(words) + " once.")
    found = await ids(api, "how do " + " ".join(words))
    assert found[0] == every
    assert repeated in found
