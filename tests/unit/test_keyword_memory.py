"""The in-memory BM25 index scores exactly like the formula, through additions, removals, reused chunk
ids and compaction."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from core.keyword import K1, B, idf
from core.keyword_memory import WorkspaceKeywords, net_additions

VOCABULARY = [f"w{n}" for n in range(60)]


def brute_force(chunks: dict[int, Counter[str]], query: Counter[str]) -> dict[int, float]:
    """BM25 as core.keyword.search computes it in SQL, over plain dicts."""
    n_docs = len(chunks)
    avgdl = sum(sum(c.values()) for c in chunks.values()) / n_docs
    scores: dict[int, float] = {}
    for term, count in query.items():
        holders = {cid: c[term] for cid, c in chunks.items() if c[term]}
        if not holders:
            continue
        weight = idf(n_docs, len(holders)) * count
        for cid, tf in holders.items():
            norm = K1 * (1.0 - B + B * sum(chunks[cid].values()) / avgdl)
            scores[cid] = scores.get(cid, 0.0) + weight * tf * (K1 + 1.0) / (tf + norm)
    return scores


def random_chunk(rng: random.Random) -> Counter[str]:
    return Counter(rng.choices(VOCABULARY[: rng.randint(5, 60)], k=rng.randint(3, 40)))


def postings(chunks: dict[int, Counter[str]]) -> list[tuple[int, str, int]]:
    return [(cid, term, tf) for cid, counts in chunks.items() for term, tf in counts.items()]


def assert_same(index: WorkspaceKeywords, chunks: dict[int, Counter[str]], rng: random.Random) -> None:
    assert len(index) == len(chunks)
    for _ in range(20):
        query = Counter(rng.sample(VOCABULARY, rng.randint(1, 4)))
        expected = brute_force(chunks, query)
        got = index.search(query, limit=len(chunks) + 1)
        assert dict(got) == pytest.approx(expected, rel=1e-9)
        assert [score for _, score in got] == sorted(expected.values(), reverse=True)
        top = index.search(query, limit=5)
        assert [score for _, score in top] == pytest.approx(sorted(expected.values(), reverse=True)[:5])


def test_scores_match_the_formula_through_changes_and_compaction() -> None:
    rng = random.Random(7)
    chunks = {cid: random_chunk(rng) for cid in range(1, 3001)}
    index = WorkspaceKeywords(generation=0)
    index.load([(cid, sum(c.values()), True) for cid, c in chunks.items()], postings(chunks))
    assert_same(index, chunks, rng)

    # Remove most chunks (forcing a compaction), replace some under the same ids, add new ones.
    removed = rng.sample(sorted(chunks), 2500)
    changes: list[tuple[int, int | None]] = [(cid, None) for cid in removed]
    for cid in removed[:300] + list(range(5000, 5200)):
        chunks[cid] = random_chunk(rng)
        changes.append((cid, sum(chunks[cid].values())))
    for cid in removed[300:]:
        del chunks[cid]
    added = net_additions(changes)
    index.apply(changes, postings({cid: chunks[cid] for cid in added}), set(added))
    assert_same(index, chunks, rng)


def test_a_workspace_built_from_packed_postings_scores_alike() -> None:
    rng = random.Random(11)
    chunks = {cid: random_chunk(rng) for cid in range(5, 800, 3)}
    packed: dict[str, list[str]] = {}
    for cid, counts in chunks.items():
        for term, tf in counts.items():
            packed.setdefault(term, []).extend((str(cid), str(tf)))
    packed.setdefault("orphan", []).extend(("9999", "2"))  # a chunk written after the chunk list was read
    rows = [(term, ",".join(pairs)) for term, pairs in packed.items()]
    index = WorkspaceKeywords.built(3, [(cid, sum(c.values()), True) for cid, c in chunks.items()], rows)
    assert index.generation == 3
    assert index.search(Counter(["orphan"]), limit=10) == []
    assert_same(index, chunks, rng)


def test_a_chunk_added_and_removed_in_one_replay_is_gone() -> None:
    index = WorkspaceKeywords(generation=0)
    index.load([(1, 2, True)], [(1, "alpha", 2)])
    changes: list[tuple[int, int | None]] = [(2, 3), (1, None), (2, None), (1, 4)]
    assert net_additions(changes) == {1: 4}
    index.apply(changes, [(1, "beta", 4)], {1})
    assert index.search(Counter(["alpha"]), limit=10) == []
    assert [cid for cid, _ in index.search(Counter(["beta"]), limit=10)] == [1]
    assert len(index) == 1


def test_postings_of_chunks_not_loaded_are_left_for_their_own_change() -> None:
    """A full load reads chunks, then postings; postings of a chunk written in between are skipped."""
    index = WorkspaceKeywords(generation=0)
    index.load([(1, 1, True)], [(1, "alpha", 1), (2, "alpha", 1)])
    [(chunk_id, score)] = index.search(Counter(["alpha"]), limit=10)
    assert chunk_id == 1
    assert score == pytest.approx(idf(1, 1))  # tf 1 at average length: the term's weight itself


def test_public_only_scores_public_chunks_over_the_whole_workspace() -> None:
    """As SQL narrowed to public chunks: the corpus statistics stay the whole workspace's."""
    rng = random.Random(5)
    chunks = {cid: random_chunk(rng) for cid in range(1, 400)}
    public = {cid for cid in chunks if rng.random() < 0.6}
    index = WorkspaceKeywords(generation=0)
    index.load([(cid, sum(c.values()), cid in public) for cid, c in chunks.items()], postings(chunks))
    for _ in range(20):
        query = Counter(rng.sample(VOCABULARY, rng.randint(1, 4)))
        expected = {cid: s for cid, s in brute_force(chunks, query).items() if cid in public}
        got = index.search(query, limit=len(chunks), public_only=True)
        assert dict(got) == pytest.approx(expected, rel=1e-9)
    assert {cid for cid in chunks if index.public(cid)} == public
    assert not index.public(10_000)  # unknown: never taken for public


def test_a_reused_chunk_id_takes_its_new_documents_public_flag() -> None:
    index = WorkspaceKeywords(generation=0)
    index.load([(1, 1, True), (2, 1, True)], [(1, "alpha", 1), (2, "alpha", 1)])
    index.apply([(1, None), (1, 1)], [(1, "alpha", 1)], set())  # id 1 now holds a private chunk
    assert not index.public(1)
    assert [cid for cid, _ in index.search(Counter(["alpha"]), limit=10, public_only=True)] == [2]
    index.apply([(2, None)], [], set())
    assert not index.public(2)
    assert index.search(Counter(["alpha"]), limit=10, public_only=True) == []


def test_public_flags_hold_once_the_last_private_chunk_is_gone() -> None:
    """Without private chunks ``public`` answers from the chunk ids alone: a removed or unknown chunk
    is still never taken for public."""
    index = WorkspaceKeywords(generation=0)
    index.load([(1, 1, False), (2, 1, True), (3, 1, True)], [])
    assert [index.public(cid) for cid in (1, 2, 3, 4)] == [False, True, True, False]
    index.apply([(1, None), (3, None)], [], set())
    assert index.private == 0
    assert [index.public(cid) for cid in (1, 2, 3, 4)] == [False, True, False, False]
    index.apply([(5, 1)], [], {5})
    assert index.public(5)


def test_private_chunks_are_counted_through_changes_and_compaction() -> None:
    index = WorkspaceKeywords(generation=0)
    index.load([(cid, 1, cid % 3 != 0) for cid in range(1, 3001)], [])
    assert index.private == 1000
    removed = list(range(3, 3001, 3))[:900] + list(range(1, 200, 3))  # 900 private, 67 public
    index.apply([(cid, None) for cid in removed] + [(1, 1)], [], set())  # id 1 comes back private
    live = (set(range(1, 3001)) - set(removed)) | {1}
    assert len(index) == len(live)
    assert index.private == 1000 - 900 + 1 == sum(not index.public(cid) for cid in live)
