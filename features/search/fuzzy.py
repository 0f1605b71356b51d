"""Edit distances for typo tolerance (optimal string alignment: a swap of neighbours is one)."""
from __future__ import annotations


def edit_distance(a: str, b: str) -> int:
    """Insertions, deletions, substitutions and adjacent transpositions needed to turn a into b."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def prefix_distance(typed: str, word: str) -> int:
    """Distance from `typed` to the closest prefix of `word`: the last word may be unfinished."""
    lengths = range(max(1, len(typed) - 2), min(len(word), len(typed) + 2) + 1)
    return min((edit_distance(typed, word[:n]) for n in lengths), default=len(typed))


def allowed_edits(word: str) -> int:
    """Typos tolerated in a word of this length: none below 4 letters, 1 up to 6, then 2."""
    if len(word) < 4:
        return 0
    return 1 if len(word) <= 6 else 2
