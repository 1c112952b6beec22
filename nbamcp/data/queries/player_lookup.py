"""Finding players by name: case- and accent-insensitive, partial and misspelled.

"jokic" finds Nikola Jokić, "giannis" Giannis Antetokounmpo, "lebron jmaes" LeBron
James. A query that is one of a name's words ("james", "jordan") matches every
player with that word equally: resolving it is then ambiguous, and the error lists
the candidates with their seasons. Basketball-Reference ids ("jamesle01") resolve
directly.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import NamedTuple

import msgspec
import numpy as np

from nbamcp.data.franchises import normalize
from nbamcp.data.queries.common import check_limit
from nbamcp.data.store import Store
from nbamcp.errors import Ambiguous, InvalidInput, NotFound
from nbamcp.messages import PlayerMatch, PlayerSearch

QUERY_MAX = 32  # characters of a normalized query that are matched (the longest name has 24)
_MIN_SHOWN = 60.0  # find_player lists matches from here
_MIN_RESOLVED = 80.0  # a name query resolves to one player only from here
_TIE = 2.0
_EPS = 1e-6  # bounds are compared with computed scores: never let rounding cut a tie
# Names find_player scores with WRatio on the event loop (~1-2 us each); more go to a thread,
# whose hop costs more than a few dozen names would.
_INLINE_FUZZY = 256
_FIRST_BATCH = 16  # names scored first for a ranking (its best few are usually among the 16 best bounds)


class _Bounds(NamedTuple):
    """Per name: an upper bound of its score, its token_sort_ratio, whether the bound is its score.

    Over every name (``ids`` None) or over the names at ``ids`` only (the arrays are theirs).
    """

    upper: np.ndarray
    t: np.ndarray
    exact: np.ndarray
    ids: np.ndarray | None = None


class _Entry(msgspec.Struct, frozen=True):
    player_id: str
    name: str
    norm: str
    hall_of_fame: bool
    first: int | None
    last: int | None


class _Index:
    """Every named player, with the look-up tables a query needs, built once per store generation.

    A name's score is ``(WRatio + token_sort_ratio) / 2``, except 100 for the exact
    name and 96 when every word of the query is a word of the name. WRatio is the
    costly half, so it is computed only where it can matter: token_sort_ratio (a
    plain ratio over pre-sorted words, in rapidfuzz's C loop) and the letters a
    name shares with the query (``_Letters``) give every name an upper bound, and
    WRatio runs only on the candidates whose bound reaches the cut the query needs.
    The scores that decide the answer are exact. find_player lists only names scoring
    60 or more, so it bounds only the names whose letters can reach 60 (``above``,
    ``listed``): a few hundred of the 3,777, token_sort_ratio on those alone.
    """

    def __init__(self, entries: list[_Entry]) -> None:
        self.entries = entries
        self.norms = [e.norm for e in entries]
        self.sorted_words = [_sorted_words(e.norm) for e in entries]
        # The same strings as arrays: a few names picked out by index without a Python loop.
        self._norms = np.array(self.norms, dtype=object)
        self._sorted = np.array(self.sorted_words, dtype=object)
        self.by_id = {e.player_id: e for e in entries}
        self.by_norm: dict[str, list[int]] = {}
        self.by_token: dict[str, set[int]] = {}
        for i, e in enumerate(entries):
            self.by_norm.setdefault(e.norm, []).append(i)
            for tok in e.norm.split():
                self.by_token.setdefault(tok, set()).add(i)
        # Among equal scores, longer careers first (the better-known player), then by name.
        self.career = [-((e.last or 0) - (e.first or 0)) for e in entries]
        self.letters = _Letters(self.norms)
        # WRatio's word-based parts are bounded by the letters only for names without a repeated word.
        self.repeated = np.array([len(set(n.split())) < len(n.split()) for n in self.norms], dtype=bool)

    def bounds(self, query: str, *, letters: bool = True, floor: float | None = None) -> _Bounds:
        """(upper bound of each score, token_sort_ratio, which scores are already exact).

        Without ``letters`` WRatio is bounded by 100 only: cheaper when the cut will be high.
        With a ``floor``, only over the names that can reach it (``_Bounds.ids``).
        """
        from rapidfuzz import fuzz, process

        if floor is not None:
            return self._bounds_over(query, floor)
        words = query.split()
        if not letters or len(set(words)) < len(words):
            # (A repeated word in the query: WRatio's set-based parts escape the letter bound.)
            w = np.full(len(self.norms), 100.0)
        else:
            w = self.letters.wratio_bound(query)
            w[self.repeated] = 100.0
            # A shared word makes partial_token_ratio 100: those names are scored, never bounded.
            w[self._sharing(words)] = 100.0
        t = process.cdist([_sorted_words(query)], self.sorted_words, scorer=fuzz.ratio, dtype=np.float64)[0]
        upper = (w + t) / 2.0 + _EPS
        exact = np.zeros(len(t), dtype=bool)
        hits, same = self._hits(query, words), self.by_norm.get(query, [])
        upper[hits], exact[hits] = 96.0, True
        upper[same], exact[same] = 100.0, True
        return _Bounds(upper, t, exact)

    def _sharing(self, words: list[str]) -> list[int]:
        return [i for tok in set(words) for i in self.by_token.get(tok, ())]

    def _hits(self, query: str, words: list[str]) -> list[int]:
        """The names holding every word of the query."""
        sets = [self.by_token.get(tok) for tok in set(words)]
        return list(set.intersection(*sets)) if sets and all(sets) else []  # type: ignore[arg-type]

    def _bounds_over(self, query: str, floor: float) -> _Bounds:
        """``bounds`` over only the names whose bound reaches ``floor``: the same values for those.

        The letters bound token_sort_ratio as well as WRatio, so the two letter bounds
        together bound the score: a name whose letters cannot reach the floor is left out
        before any ratio is computed, and token_sort_ratio (a pass over every name without a
        floor) runs on the rest only. The letters shared are counted from bit masks, and a
        name is bounded only if it shares the fewest letters that can reach the floor at
        its length (``_Letters.least_shared``): most names are never bounded one by one.
        """
        from rapidfuzz import fuzz, process

        words = query.split()
        hits, same = self._hits(query, words), self.by_norm.get(query, [])
        shared = self.letters.shared(query)
        repeated_query = len(set(words)) < len(words)
        if repeated_query:
            ids = np.arange(len(self.norms))  # WRatio bounded by 100 for every name: no cheap filter
        else:
            maybe = shared >= self.letters.least_shared(len(query), floor)
            # WRatio bounded by 100 for these: the filter (which assumes the letter bound) is not theirs.
            sharing = self._sharing(words)
            maybe |= self.repeated
            if sharing or same:  # (hits share every word)
                maybe[sharing + same] = True
            ids = np.flatnonzero(maybe)
        w, whole = self.letters.bounds_at(len(query), ids, shared[ids])
        if repeated_query:
            w = np.full(len(ids), 100.0)
        else:
            w[self.repeated[ids]] = 100.0
            if sharing:
                w[np.searchsorted(ids, sharing)] = 100.0
        live = (w + whole) / 2.0 + _EPS >= floor
        if hits or same:
            live[np.searchsorted(ids, hits + same)] = True
        ids, w = ids[live], w[live]
        names = self._sorted[ids].tolist()
        if names:
            t = process.cdist([_sorted_words(query)], names, scorer=fuzz.ratio, dtype=np.float64)[0]
        else:
            t = np.zeros(0)
        upper = (w + t) / 2.0 + _EPS
        exact = np.zeros(len(ids), dtype=bool)
        for known, score in ((hits, 96.0), (same, 100.0)):  # (the exact name after: it holds every word)
            if known:
                at = np.searchsorted(ids, known)
                upper[at], exact[at] = score, True
        return _Bounds(upper, t, exact, ids)

    def scored(self, query: str, bounds: _Bounds, idx: np.ndarray) -> np.ndarray:
        """Exact scores of the names at ``idx`` (in that order; positions in ``bounds``)."""
        from rapidfuzz import fuzz, process

        upper, t, exact, ids = bounds
        out = upper[idx].copy()
        fuzzy = ~exact[idx]
        at = idx[fuzzy]
        if len(at):
            names = self._norms[at if ids is None else ids[at]].tolist()
            w = process.cdist([query], names, scorer=fuzz.WRatio, dtype=np.float64)[0]
            out[fuzzy] = (w + t[at]) / 2.0
        return out

    def scan(self, query: str, bounds: _Bounds, cut: Callable[[np.ndarray], float], first: int) -> np.ndarray:
        """Exact scores of the candidates (-inf for the names never scored).

        The ``first`` best bounds are scored, then the names whose bound reaches
        ``cut(the scores so far)`` (a cut that only rises as scores come in), best bound
        first, in growing batches while one is left whose bound reaches the risen cut:
        when none is, no name left can reach the cut, so every score at or above it is
        exact. Most real queries score a few dozen names.
        """
        upper = bounds[0]
        scores = np.full(len(upper), -np.inf)
        head = np.argpartition(-upper, first - 1)[:first] if len(upper) > first else np.arange(len(upper))
        seen = scores[head] = self.scored(query, bounds, head)
        floor = cut(seen)
        left = np.flatnonzero(upper >= floor)
        left = left[np.isneginf(scores[left])]
        ranked = left[np.argsort(-upper[left], kind="stable")]
        falling = -upper[ranked]  # ascending: what searchsorted needs
        done, size = 0, 2 * first
        while (reach := int(np.searchsorted(falling, -floor, side="right"))) > done:  # bounds >= floor
            batch = ranked[done : min(reach, done + size)]
            scores[batch] = got = self.scored(query, bounds, batch)
            seen = np.concatenate([seen, got])
            done, size = done + len(batch), size * 2
            floor = cut(seen)
        return scores

    def order(
        self, scores: np.ndarray, cut: float, ids: np.ndarray | None = None
    ) -> list[tuple[float, _Entry]]:
        """The names scoring at least ``cut``, best first: score, then career length, then name.

        ``scores`` are of the names at ``ids`` (of every name when None).
        """
        at = np.flatnonzero(scores >= cut)
        vals = scores[at].tolist()
        names = (at if ids is None else ids[at]).tolist()  # the entries, by index
        pick = sorted(
            range(len(names)),
            key=lambda j: (-vals[j], self.career[names[j]], self.entries[names[j]].name),
        )
        return [(vals[j], self.entries[names[j]]) for j in pick]

    @staticmethod
    def _kth(values: np.ndarray, k: int) -> float:
        """The k-th largest of ``values`` (-inf when there are fewer than k)."""
        if len(values) < k:
            return -np.inf
        return float(np.partition(values, len(values) - k)[len(values) - k])

    def top(self, query: str, k: int) -> list[tuple[float, _Entry]]:
        """The ``k`` best names in ranking order (ties at the cut sorted, not guessed)."""
        bounds = self.bounds(query)
        k = min(k, len(bounds[0]))
        if k == 0:
            return []
        # The k-th best exact score so far is a floor under the true k-th best.
        scores = self.scan(query, bounds, lambda s: self._kth(s, k), max(k, _FIRST_BATCH))
        return self.order(scores, self._kth(scores[np.isfinite(scores)], k))[:k]

    def above(self, query: str, k: int, floor: float) -> tuple[_Bounds, np.ndarray]:
        """What ``listed`` needs: the bounds over the names that can reach ``floor``, and the
        positions among them to score with WRatio (its cost: ~1 us each)."""
        bounds = self.bounds(query, floor=floor)
        # The names whose score is known (every word of the query, the exact name) may fill
        # the k places: then only a bound reaching their k-th score needs a WRatio.
        cut = max(self._kth(bounds.upper[bounds.exact], k), floor)
        return bounds, np.flatnonzero((bounds.upper >= cut) & ~bounds.exact)

    def listed(
        self, query: str, k: int, floor: float, plan: tuple[_Bounds, np.ndarray]
    ) -> list[tuple[float, _Entry]]:
        """The ``k`` best of the names scoring at least ``floor``: the ranking's first names
        from ``floor`` up, in its order (``plan`` from ``above``)."""
        bounds, todo = plan
        scores = np.where(bounds.exact, bounds.upper, -np.inf)
        # One pass over every name left that can reach the cut: scoring them all costs less
        # than rounds of bounding and scoring for the few dozen a real query leaves.
        scores[todo] = self.scored(query, bounds, todo)
        return self.order(scores, max(self._kth(scores[np.isfinite(scores)], k), floor), bounds.ids)[:k]

    def best_and_tied(self, query: str, tie: float) -> tuple[float, list[_Entry]]:
        """The best score and every name within ``tie`` of it, in ranking order."""
        # The cut is the best score less the tie: high for any name that resolves (a low best
        # is an error that ranks with ``top``), so the letter bounds would cost more than they save.
        bounds = self.bounds(query, letters=False)
        if not len(bounds[0]):
            return 0.0, []
        # The best is almost always among the few best bounds, and the tie band is narrow.
        scores = self.scan(query, bounds, lambda s: float(s.max()) - tie, 4)
        best = float(scores.max())
        return best, [e for _, e in self.order(scores, best - tie)]


class _Letters:
    """Each name's letter counts: an upper bound on every rapidfuzz ratio between a query and it.

    A common subsequence of two strings uses no letter more often than both have it, so
    the letters they share (``m``, counted with repeats) bound their Indel ratio by
    ``200 m / (len(q) + len(n))``, and ``partial_ratio`` (the shorter against any window
    of the longer, ``s`` the shorter's length) by ``200 m / (s + m)``. For a name that
    shares no word with the query and repeats none, every part of WRatio is one of these
    (the token ratios compare the same letters re-ordered), so WRatio is at most
    ``max(ratio bound, scale * partial bound)`` with WRatio's own length rule and scale.
    A vectorized pass over all names costs a fraction of one WRatio pass.
    """

    ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789 "  # what ``normalize`` leaves

    def __init__(self, norms: list[str]) -> None:
        self._column = {c: i for i, c in enumerate(self.ALPHABET)}
        # One row per letter (a letter's counts over all names are contiguous).
        counts = np.zeros((len(self.ALPHABET), len(norms)), dtype=np.uint8)
        for col, norm in enumerate(norms):
            for c in norm:
                counts[self._column[c], col] += 1
        self.counts = counts
        self.lengths = np.array([len(n) for n in norms], dtype=np.float64)
        self.length = np.array([len(n) for n in norms], dtype=np.intp)
        self.longest = int(self.length.max(initial=0))
        self._tables: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        # Bit c of at_least[j - 1][name] is set when the name has letter c at least j times.
        most = int(counts.max(initial=0))
        weights = np.uint64(1) << np.arange(len(self.ALPHABET), dtype=np.uint64)[:, None]
        self.at_least = [((counts >= j) * weights).sum(axis=0, dtype=np.uint64) for j in range(1, most + 1)]
        self._least: dict[tuple[int, float], np.ndarray] = {}

    def shared(self, query: str) -> np.ndarray:
        """The letters each name shares with ``query``, counted with repeats (``min`` of the counts)."""
        # min(a, b) = how many j in 1..b have a >= j: one AND and a popcount per j over the masks.
        counts = collections.Counter(c for c in query if c in self._column)
        out = np.zeros(self.counts.shape[1], dtype=np.uint8)
        for j in range(1, min(max(counts.values(), default=0), len(self.at_least)) + 1):
            bits = sum(1 << self._column[c] for c, n in counts.items() if n >= j)
            out += np.bitwise_count(self.at_least[j - 1] & np.uint64(bits))
        return out

    def table(self, lq: int) -> tuple[np.ndarray, np.ndarray]:
        """``bounds`` for a query of ``lq`` characters as tables over (letters shared, name length):
        the same values, two look-ups per name instead of a dozen array operations; kept per lq."""
        got = self._tables.get(lq)
        if got is None:
            m = np.arange(lq + 1, dtype=np.float64)[:, None]
            got = self._bounds(m, np.arange(self.longest + 1, dtype=np.float64)[None, :], float(lq))
            if len(self._tables) < 64:  # (queries are cut to QUERY_MAX characters)
                self._tables[lq] = got
        return got

    def least_shared(self, lq: int, floor: float) -> np.ndarray:
        """Per name, the fewest letters shared with a query of ``lq`` characters whose two letter
        bounds (``bounds``) can average ``floor`` (``lq + 1``: none can); kept per (lq, floor)."""
        key = (lq, floor)
        need = self._least.get(key)
        if need is None:
            w, whole = self.table(lq)
            reach = (w + whole) / 2.0 + 2 * _EPS >= floor  # (a hair looser than the check it feeds)
            by_length = np.where(reach.any(axis=0), reach.argmax(axis=0), lq + 1).astype(np.uint8)
            need = by_length[self.length]
            if len(self._least) < 128:  # (~32 query lengths per floor)
                self._least[key] = need
        return need

    def bounds_at(self, lq: int, ids: np.ndarray, shared: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``bounds`` against the names at ``ids`` for a query of ``lq`` characters sharing ``shared``
        letters with each (what ``shared()`` gives for them), from ``table``."""
        w, whole = self.table(lq)
        at = (shared, self.length[ids])
        return w[at], whole[at]

    def bounds(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """(bound of WRatio, bound of the plain and token-sort ratios) against every name."""
        return self._bounds(self.shared(query).astype(np.float64), self.lengths, float(len(query)))

    @staticmethod
    def _bounds(shared: np.ndarray, lengths: np.ndarray, lq: float) -> tuple[np.ndarray, np.ndarray]:
        shorter = np.minimum(lengths, lq)
        longer = np.maximum(lengths, lq)
        whole = 200.0 * shared / (lengths + lq)
        part = 200.0 * shared / np.maximum(shorter + shared, 1.0)
        # WRatio: below a length ratio of 1.5 the plain and token ratios only (all within ``whole``);
        # above it also the partial ones, scaled by 0.9, or by 0.6 past a length ratio of 8.
        ratio = longer / np.maximum(shorter, 1.0)
        scale = np.where(ratio <= 8.0, 0.9, 0.6)
        return np.where(ratio < 1.5, whole, np.maximum(whole, scale * part)), whole

    def wratio_bound(self, query: str) -> np.ndarray:
        return self.bounds(query)[0]


def _sorted_words(text: str) -> str:
    return " ".join(sorted(text.split()))


async def player_index(store: Store) -> _Index:
    idx = store.cache.get("players")
    if idx is None:
        rows = await store.fetchall(
            """
            SELECT p.player_id, p.name, p.hall_of_fame, MIN(s.season), MAX(s.season)
            FROM players p
            LEFT JOIN (SELECT player_id, season FROM player_seasons
                       UNION ALL SELECT player_id, season FROM raptor) s USING (player_id)
            WHERE p.name IS NOT NULL
            GROUP BY p.player_id
            """
        )
        entries = [
            _Entry(pid, name, normalize(name), bool(hof), first, last) for pid, name, hof, first, last in rows
        ]
        idx = store.cache["players"] = _Index(entries)
    return idx


def _query(query: str) -> str:
    """The query as names are indexed, cut to ``QUERY_MAX``: fuzzy matching costs time per
    character (~1.5 ms per character over every name), and no name is that long."""
    q = normalize(query[: 4 * QUERY_MAX]) if isinstance(query, str) else ""
    q = q[:QUERY_MAX].strip()
    if not q:
        raise InvalidInput("player must be a name (or part of one), e.g. 'LeBron James', 'jokic'")
    return q


def _shown(query: str) -> str:
    """The query as an error repeats it: never the whole of a long one."""
    return repr(query) if len(query) <= 40 else f"{query[:40]!r}..."


def _exact_scores(n: int, hits: list[int]) -> np.ndarray:
    scores = np.full(n, -np.inf)
    scores[hits] = 100.0
    return scores


def _match(score: float, e: _Entry) -> PlayerMatch:
    return PlayerMatch(e.player_id, e.name, e.hall_of_fame, e.first, e.last, round(score, 1))


def _describe(entries: list[_Entry]) -> str:
    return "; ".join(f"{e.name} ({e.player_id}, {e.first}-{e.last})" for e in entries)


async def find_player(store: Store, query: str, limit: int = 10) -> PlayerSearch:
    """Players whose name matches ``query``, best first. Raises NotFound when none is close."""
    check_limit(limit)
    idx = await player_index(store)
    if not idx.entries:
        raise NotFound("the store has no players yet: ingest the player files first")
    q = _query(query)
    # Only names scoring _MIN_SHOWN are listed, so only those are ranked. Finding them costs
    # ~0.1 ms, and tells how many need WRatio, which decides whether a thread is worth its hop.
    plan = idx.above(q, limit, _MIN_SHOWN)
    if len(plan[1]) <= _INLINE_FUZZY:
        ranked = idx.listed(q, limit, _MIN_SHOWN, plan)
    else:
        # Off the event loop: a junk query can leave thousands of names to score, ~10 ms or
        # more (rapidfuzz lets go of the GIL).
        ranked = await asyncio.to_thread(idx.listed, q, limit, _MIN_SHOWN, plan)
    if not ranked:
        raise _not_found(query, await asyncio.to_thread(idx.top, q, 5))
    return PlayerSearch(query, [_match(s, e) for s, e in ranked])


def _not_found(query: str, ranked: list[tuple[float, _Entry]]) -> NotFound:
    closest = f"; closest: {_describe([e for _, e in ranked[:5]])}" if ranked else ""
    return NotFound(
        f"no player matches {_shown(query)}{closest}",
        details={"query": query, "closest": ",".join(e.player_id for _, e in ranked[:5])},
    )


async def resolve_player(store: Store, query: str) -> PlayerMatch:
    """Exactly one player for ``query`` (a name or a Basketball-Reference id), or a clear error."""
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput("player must be a name (or part of one), e.g. 'LeBron James', 'jokic'")
    idx = await player_index(store)
    by_id = idx.by_id.get(query.strip())
    if by_id is not None:
        return _match(100.0, by_id)
    q = _query(query)
    exact = idx.by_norm.get(q)
    if exact is not None:
        # The exact name outscores everything but another player of the same name: no fuzzing.
        best, tied = 100.0, [e for _, e in idx.order(_exact_scores(len(idx.entries), exact), 100.0)]
    else:
        best, tied = await asyncio.to_thread(idx.best_and_tied, q, _TIE)
    if not tied or best < _MIN_RESOLVED:
        raise _not_found(query, await asyncio.to_thread(idx.top, q, 5))
    if len(tied) == 1:
        return _match(best, tied[0])
    raise Ambiguous(
        f"{_shown(query)} matches {len(tied)} players: {_describe(tied[:8])}"
        + (" ..." if len(tied) > 8 else "")
        + "; give the full name or the id",
        details={"query": query, "candidates": ",".join(e.player_id for e in tied[:8])},
    )
