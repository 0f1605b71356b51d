"""Matching and ranking: web-search syntax, title as a field, accents, prefix, typos."""
from __future__ import annotations

from features.search.tests.conftest import ids


async def test_result_shape_and_a_word_match(api, add, word):
    article = await add(f"About {word}", f"A body that talks about {word} at length.")
    response = await api.get("/search", params={"q": word})
    assert response.status_code == 200
    body = response.json()
    assert body["next_cursor"] is None
    [item] = body["items"]
    assert set(item) == {"id", "title", "slug", "snippet", "rank"}
    assert item["id"] == article
    assert item["title"] == f"About {word}"
    assert item["rank"] > 0


async def test_a_title_occurrence_outweighs_a_body_occurrence(api, add, word):
    body_only = await add("Something else", f"{word} fills this body.")
    in_title = await add(f"The {word} story", "A body without the word.")
    assert await ids(api, word) == [in_title, body_only]


async def test_title_match_survives_a_candidate_cap_full_of_body_matches(
    api, add, word, monkeypatch
):
    from features.search import queries

    monkeypatch.setattr(queries, "CANDIDATES", 3)
    for n in range(5):
        await add(f"Filler {n}", f"The body mentions {word} once.")
    in_title = await add(f"{word} in the title", "Nothing here.")
    found = await ids(api, word)
    assert found[0] == in_title


async def test_accents_do_not_matter(api, add, word):
    accented = await add("Dessert", f"{word} crème brûlée")
    plain = await add("Dessert too", f"{word} creme brulee")
    assert sorted(await ids(api, f"{word} creme")) == sorted([accented, plain])
    assert sorted(await ids(api, f"{word} brûlée")) == sorted([accented, plain])


async def test_exact_phrase(api, add, word):
    phrase = await add("Phrase", f"{word} quick brown fox")
    apart = await add("Apart", f"{word} brown dogs and a quick fox")
    assert sorted((await ids(api, f"{word} quick brown"))[:2]) == sorted([phrase, apart])
    assert await ids(api, f'{word} "quick brown"') == [phrase]


async def test_or_and_exclusion(api, add, word):
    cats = await add("Cats", f"{word} about cats")
    dogs = await add("Dogs", f"{word} about dogs")
    both = await add("Both", f"{word} about cats and dogs")
    # Plain words are wishes: other tests' cats may follow, after the articles holding both.
    assert sorted((await ids(api, f"{word} cats or dogs"))[:3]) == sorted([cats, dogs, both])
    assert await ids(api, f"{word} cats -dogs") == [cats]
    assert sorted(await ids(api, f'{word} -"cats and dogs"')) == sorted([cats, dogs])


async def test_last_word_matches_as_prefix(api, add, word):
    article = await add("Databases", f"{word} PostgreSQL keeps the data")
    assert await ids(api, f"{word} postgr") == [article]
    # Only the last word: earlier words must match whole (found by {word}, nothing marked).
    response = await api.get("/search", params={"q": f"postgr {word}"})
    [item] = [item for item in response.json()["items"] if item["id"] == article]
    assert "<mark>PostgreSQL</mark>" not in item["snippet"]


async def test_unfinished_word_past_its_stem_still_matches(api, add, word):
    article = await add("Verbs", f"{word} running everywhere")  # indexed as the stem `run`
    assert await ids(api, f"{word} runnin") == [article]


async def test_misspelled_words_find_their_articles(api, add, word):
    article = await add("Databases", f"{word}postgresql and {word}search engines")
    assert await ids(api, f"{word}postgrse") == [article]  # last word: typo + unfinished
    assert await ids(api, f"{word}serch {word}postgresql") == [article]  # one edit
    assert await ids(api, f"{word}srch {word}postgresql") == [article]  # two edits
    assert await ids(api, f"{word}xyzzy") == []  # too far to be a typo


async def test_stopwords_and_pure_exclusions_find_nothing(api, add, word):
    await add("Common", f"{word} the and of")
    assert await ids(api, "the of and") == []
    assert await ids(api, f"-{word}") == []


async def test_phrase_and_excluded_phrase_stay_exact_under_the_scan_bound(
    api, add, word, monkeypatch
):
    from features.search import queries

    monkeypatch.setattr(queries, "PHRASE_SCAN", 2)
    one = await add("One", f"{word} brown quick")
    two = await add("Two", f"{word} quick and brown")
    assert await ids(api, f'"{word} quick brown"') == []
    found = await add("Three", f"{word} quick brown")
    monkeypatch.setattr(queries, "PHRASE_SCAN", 100)
    assert await ids(api, f'"{word} quick brown"') == [found]
    assert sorted(await ids(api, f'{word} -"quick brown"')) == sorted([one, two])
