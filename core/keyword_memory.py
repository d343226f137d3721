"""The keyword index held in each process's memory, kept in step with the postings table.

BM25 in SQL reads every posting of the query's terms on every search (34 ms at 18k chunks, growing
with the index). Here a process holds each workspace's postings as numpy arrays and scores them in about
a millisecond, with the same formula and therefore the same scores.

Each chunk also carries whether its document is public, so a search for public documents only (what
REST and chat ask) is answered here too, without an ACL query per search: a chunk's ACL is fixed for its
life, as a change of ACL is a change of content that replaces the document's chunks.

It never answers from a stale index: writers stamp each change with a new workspace generation in the
same transaction (core.keyword), and before every search the process reads the committed generation (one
primary-key lookup) and replays the changes it has not seen. A process new to a workspace, or so far
behind that the change log was pruned, loads the workspace whole. Searches narrowed to some chunks (by
filters or a principal's ACL) are scored in SQL, where the narrowing is a join.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from core import keyword
from core.db import Reads, SessionReads, Sessions
from core.keyword import K1, B, idf
from core.tables import Workspace

Slots = npt.NDArray[np.int64]
Entry = tuple[int, int, bool]  # a chunk: id, length in terms, whether its document is public
Floats = npt.NDArray[np.float64]


@dataclass(slots=True)
class TermPostings:
    """One term's postings as parallel arrays of slots and term frequencies; appends wait in lists."""

    slots: Slots = field(default_factory=lambda: np.zeros(0, np.int64))
    tfs: Floats = field(default_factory=lambda: np.zeros(0, np.float64))
    pending_slots: list[int] = field(default_factory=list)
    pending_tfs: list[int] = field(default_factory=list)

    def extend(self, slots: list[int], tfs: list[int]) -> None:
        self.pending_slots.extend(slots)
        self.pending_tfs.extend(tfs)

    def arrays(self) -> tuple[Slots, Floats]:
        if self.pending_slots:
            self.slots = np.concatenate([self.slots, np.asarray(self.pending_slots, np.int64)])
            self.tfs = np.concatenate([self.tfs, np.asarray(self.pending_tfs, np.float64)])
            self.pending_slots, self.pending_tfs = [], []
        return self.slots, self.tfs


class WorkspaceKeywords:
    """BM25 over one workspace's chunks. Each chunk has a slot; removing a chunk only marks its slot
    dead, and the arrays are compacted once a quarter of the slots are dead. Chunks are given as
    (chunk id, length, public)."""

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self._slot_of: dict[int, int] = {}
        self._ids = np.zeros(1024, np.int64)
        self._lengths = np.zeros(1024, np.float64)
        self._alive = np.zeros(1024, np.bool_)
        self._public = np.zeros(1024, np.bool_)
        self._used = 0
        self._total_length = 0.0
        self._private = 0
        self._terms: dict[str, TermPostings] = {}

    def __len__(self) -> int:
        return len(self._slot_of)

    @property
    def private(self) -> int:
        """How many chunks belong to documents that are not public."""
        return self._private

    @classmethod
    def built(
        cls, generation: int, chunks: Iterable[Entry], packed: Iterable[tuple[str, str]]
    ) -> WorkspaceKeywords:
        """A whole workspace from its chunks and its terms' packed postings
        (``core.keyword.packed_postings``). Postings of chunks not listed are dropped, as in ``load``."""
        index = cls(generation)
        for chunk_id, length, public in sorted(chunks):
            index._new_slot(chunk_id, length, public)
        ids = index._ids[: index._used]  # ascending, so a chunk's slot is found by bisection
        if not len(ids):
            return index
        for term, pairs in packed:
            numbers = np.fromstring(pairs, dtype=np.int64, sep=",")
            chunk_ids, tfs = numbers[0::2], numbers[1::2]
            slots = np.minimum(np.searchsorted(ids, chunk_ids), len(ids) - 1)
            known = ids[slots] == chunk_ids
            if known.any():
                index._terms[term] = TermPostings(slots[known], tfs[known].astype(np.float64))
        return index

    def load(self, chunks: Iterable[Entry], postings: Iterable[tuple[int, str, int]]) -> None:
        """Add (or replace) chunks, then attach their (chunk id, term, tf) postings.

        Postings of chunks that are not among ``chunks`` are ignored: they were written after the chunk
        list was read, and arrive with the change that added them.
        """
        fresh = {chunk_id: self._new_slot(chunk_id, length, public) for chunk_id, length, public in chunks}
        grouped: defaultdict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
        for chunk_id, term, tf in postings:
            slot = fresh.get(chunk_id)
            if slot is not None and self._slot_of.get(chunk_id) == slot:
                slots, tfs = grouped[term]
                slots.append(slot)
                tfs.append(tf)
        for term, (slots, tfs) in grouped.items():
            self._terms.setdefault(term, TermPostings()).extend(slots, tfs)
        if self._used - len(self._slot_of) > max(1024, self._used // 4):
            self._compact()

    def apply(
        self,
        changes: list[tuple[int, int | None]],
        postings: Iterable[tuple[int, str, int]],
        public: AbstractSet[int],
    ) -> None:
        """Replay logged changes, (chunk id, length) for an addition and (chunk id, None) for a removal,
        given the current postings of the chunks that ``net_additions`` names and which of them are
        public."""
        for chunk_id, length in changes:
            if length is None:
                self._remove(chunk_id)
        added = net_additions(changes).items()
        self.load([(chunk_id, length, chunk_id in public) for chunk_id, length in added], postings)

    def public(self, chunk_id: int) -> bool:
        """Whether the chunk is known here and its document is public."""
        if not self._private:  # the usual workspace: a dict lookup, not a numpy scalar read per candidate
            return chunk_id in self._slot_of
        slot = self._slot_of.get(chunk_id)
        return slot is not None and bool(self._public[slot])

    def _remove(self, chunk_id: int) -> None:
        slot = self._slot_of.pop(chunk_id, None)
        if slot is None:
            return
        self._alive[slot] = False
        self._total_length -= float(self._lengths[slot])
        self._private -= not self._public[slot]

    def search(
        self, query: Counter[str], limit: int, *, public_only: bool = False
    ) -> list[tuple[int, float]]:
        """The best ``limit`` chunks by BM25, as core.keyword.search scores them, best first; with
        ``public_only``, the best public ones (scored over the whole workspace, as SQL narrowed to them)."""
        n_docs = len(self._slot_of)
        if not n_docs or self._total_length <= 0 or limit <= 0:
            return []
        avgdl = self._total_length / n_docs
        scores = np.zeros(self._used, np.float64)
        touched = np.zeros(self._used, np.bool_)
        dead = self._used > n_docs  # usually none: then no term's postings need filtering (~15% of it)
        for term, count in query.items():
            postings = self._terms.get(term)
            if postings is None:
                continue
            slots, tfs = postings.arrays()
            if dead:
                live = self._alive[slots]
                slots, tfs = slots[live], tfs[live]
            if not len(slots):
                continue
            weight = idf(n_docs, len(slots)) * count
            norm = K1 * (1.0 - B + B * self._lengths[slots] / avgdl)
            scores[slots] += weight * tfs * (K1 + 1.0) / (tfs + norm)  # a term's slots are distinct
            touched[slots] = True
        if public_only:
            touched &= self._public[: self._used]
        hits = np.flatnonzero(touched)
        if len(hits) > limit:
            hits = hits[np.argpartition(-scores[hits], limit - 1)[:limit]]
        hits = hits[np.argsort(-scores[hits], kind="stable")]
        return [(int(self._ids[slot]), float(scores[slot])) for slot in hits]

    def _new_slot(self, chunk_id: int, length: int, public: bool) -> int:
        self._remove(chunk_id)  # a replayed or reused chunk id replaces the old entry
        if self._used == len(self._ids):
            self._ids, self._lengths, self._alive, self._public = (
                np.concatenate([a, np.zeros_like(a)])
                for a in (self._ids, self._lengths, self._alive, self._public)
            )
        slot = self._used
        self._used += 1
        self._ids[slot], self._lengths[slot], self._alive[slot] = chunk_id, length, True
        self._public[slot] = public
        self._slot_of[chunk_id] = slot
        self._total_length += length
        self._private += not public
        return slot

    def _compact(self) -> None:
        """Renumber the live slots densely and drop dead postings."""
        live = np.flatnonzero(self._alive[: self._used])
        renumber = np.full(self._used, -1, np.int64)
        renumber[live] = np.arange(len(live))
        for term in list(self._terms):
            slots, tfs = self._terms[term].arrays()
            keep = self._alive[slots]
            if not keep.any():
                del self._terms[term]
                continue
            self._terms[term] = TermPostings(renumber[slots[keep]], tfs[keep])
        size = max(1024, 2 * len(live))
        n = len(live)
        ids, lengths = np.zeros(size, np.int64), np.zeros(size, np.float64)
        alive, public = np.zeros(size, np.bool_), np.zeros(size, np.bool_)
        ids[:n], lengths[:n], alive[:n], public[:n] = (
            self._ids[live],
            self._lengths[live],
            True,
            self._public[live],
        )
        self._ids, self._lengths, self._alive, self._public, self._used = ids, lengths, alive, public, n
        self._slot_of = {int(chunk_id): slot for slot, chunk_id in enumerate(self._ids[:n])}


class MemoryKeywords:
    """This process's in-memory keyword indexes, one per workspace, each replayed up to the committed
    generation before it answers."""

    def __init__(self, sessions: Sessions, reads: Reads | None = None) -> None:
        self._sessions = sessions
        self._reads = reads or SessionReads(sessions)  # the generation check runs before every search
        self._generation = keyword.generation_query()
        self._indexes: dict[str, WorkspaceKeywords] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def search(
        self, workspace: Workspace, query: Counter[str], *, limit: int
    ) -> list[tuple[int, float]]:
        if not query:
            return []
        index = await self.current(workspace)
        return index.search(query, limit)

    def held(self, workspace: Workspace) -> WorkspaceKeywords | None:
        """The workspace's index as this process holds it now, perhaps behind the database: for hints
        only, never for results."""
        return self._indexes.get(workspace.uid)

    async def current(self, workspace: Workspace) -> WorkspaceKeywords:
        """The workspace's index, brought up to the generation committed now."""
        found = await self._reads.scalar(self._generation, {"workspace_id": workspace.id})
        committed = keyword.committed(found)
        if committed < 0:  # the workspace was deleted
            self._indexes.pop(workspace.uid, None)
            return WorkspaceKeywords(committed)
        index = self._indexes.get(workspace.uid)
        if index is not None and index.generation == committed:
            return index
        async with self._locks.setdefault(workspace.uid, asyncio.Lock()):
            index = self._indexes.get(workspace.uid)
            if index is None or index.generation > committed or not await self._replay(workspace, index):
                index = await self._load(workspace)
            self._indexes[workspace.uid] = index
        return index

    async def _load(self, workspace: Workspace) -> WorkspaceKeywords:
        async with self._sessions() as session:
            # Read the generation first: whatever the reads below see is at least that new, and the
            # replay of later changes is idempotent.
            generation = await keyword.generation(session, workspace.id)
            chunks = await keyword.chunk_entries(session, workspace.id)
            packed = await keyword.packed_postings(session, workspace.id)
        return await asyncio.to_thread(WorkspaceKeywords.built, generation, chunks, packed)

    async def _replay(self, workspace: Workspace, index: WorkspaceKeywords) -> bool:
        """Apply the changes after the index's generation; False when the log no longer reaches back."""
        async with self._sessions() as session:
            changes = await keyword.changes_since(session, workspace.id, index.generation)
            # Called only when the committed generation is newer: no rows, or a hole, means pruned.
            if not changes or changes[0][0] != index.generation + 1:
                return False
            replay = [(chunk_id, length) for _generation, chunk_id, length in changes]
            added = list(net_additions(replay))
            found = await keyword.postings(session, workspace.id, added)
            public = await keyword.public_chunks(session, workspace.id, added)
        # Applied in one step, so a concurrent search sees the index before or after, never between.
        index.apply(replay, found, public)
        index.generation = changes[-1][0]
        return True


def net_additions(changes: list[tuple[int, int | None]]) -> dict[int, int]:
    """The chunks that a run of changes leaves added, with their lengths."""
    added: dict[int, int] = {}
    for chunk_id, length in changes:
        if length is None:
            added.pop(chunk_id, None)
        else:
            added[chunk_id] = length
    return added
