"""Snippets: matches in <mark>, everything else inert HTML."""
from __future__ import annotations


async def test_snippet_marks_matches_and_escapes_markup(api, add, word):
    body = f'Hello <script>alert("x")</script> & <b>{word}</b> \x02sneaky\x03 ok'
    await add("Markup", body)
    response = await api.get("/search", params={"q": word})
    snippet = response.json()["items"][0]["snippet"]
    assert f"<mark>{word}</mark>" in snippet
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in snippet
    assert "&amp;" in snippet and "&lt;b&gt;" in snippet
    assert "<script" not in snippet and "<b>" not in snippet
    assert "\x02" not in snippet and "\x03" not in snippet
    stripped = snippet.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in stripped and ">" not in stripped


async def test_snippet_marks_prefix_and_corrected_words(api, add, word):
    await add("Engines", f"{word}searching engines")
    response = await api.get("/search", params={"q": f"{word}serch"})
    assert f"<mark>{word}searching</mark>" in response.json()["items"][0]["snippet"]


async def test_snippet_marks_the_words_an_article_holds_of_a_longer_query(api, add, word):
    filler = " ".join(f"filler{n}" for n in range(200))
    await add("Long", f"{filler} then {word} at last, after everything else.")
    response = await api.get("/search", params={"q": f"{word} {word}missing"})
    assert f"<mark>{word}</mark>" in response.json()["items"][0]["snippet"]
