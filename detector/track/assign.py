"""Box overlap and the optimal one-to-one matching of tracks to detections.

The matching maximises the summed `IoU - threshold` over the pairs it makes, and makes no pair below
the threshold: a pair is worth making only by what its overlap exceeds the least acceptable one (the
cost limit of ByteTrack's association). Rows and columns that overlap nothing acceptable are set
aside first and the rest split into groups that share no acceptable pair, so each group is a small
assignment problem, solved exactly by shortest augmenting paths (the Hungarian method with
potentials, O(n^2 m) for n <= m). No scipy: importing scipy.optimize costs ~54 MB of RSS on the edge.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F = npt.NDArray[np.floating]


def _intersections(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, M) intersection areas of corner boxes a (N, 4) and b (M, 4), and the areas of each."""
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    area_a = np.clip(a[:, 2] - a[:, 0], 0, None) * np.clip(a[:, 3] - a[:, 1], 0, None)
    area_b = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    return ix * iy, area_a, area_b


def iou_matrix(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """(N, M) intersection over union of corner boxes a (N, 4) and b (M, 4)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    inter, area_a, area_b = _intersections(a, b)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def covered_share(a: npt.ArrayLike, b: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Per box of a (N, 4): the largest share of its own area that one box of b (M, 4) covers."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    if len(a) == 0 or len(b) == 0:
        return np.zeros(len(a))
    inter, area_a, _ = _intersections(a, b)
    return np.asarray(inter.max(axis=1) / np.maximum(area_a, 1e-6))


def min_cost_assignment(cost: F) -> list[tuple[int, int]]:
    """Rows to distinct columns minimising the summed cost; every row is assigned when rows <= columns
    (the matrix is transposed otherwise, so min(rows, cols) pairs are returned)."""
    cost = np.asarray(cost, dtype=np.float64)
    n, m = cost.shape
    if n == 0 or m == 0:
        return []
    if n > m:
        return [(i, j) for j, i in min_cost_assignment(cost.T)]
    # 1-based: column 0 and row 0 are the virtual start of each augmenting path
    a = np.zeros((n + 1, m + 1))
    a[1:, 1:] = cost
    u = np.zeros(n + 1)  # row potentials
    v = np.zeros(m + 1)  # column potentials
    owner = np.zeros(m + 1, dtype=np.int64)  # row assigned to each column (0: none)
    way = np.zeros(m + 1, dtype=np.int64)  # previous column on the shortest path
    for row in range(1, n + 1):
        owner[0] = row
        col = 0
        reach = np.full(m + 1, np.inf)  # shortest reduced distance to each column so far
        done = np.zeros(m + 1, dtype=bool)
        while True:
            done[col] = True
            i = owner[col]
            free = ~done
            reduced = a[i] - u[i] - v
            better = free & (reduced < reach)
            reach[better] = reduced[better]
            way[better] = col
            candidates = np.where(free, reach, np.inf)
            nxt = int(np.argmin(candidates))
            delta = candidates[nxt]
            u[owner[done]] += delta
            v[done] -= delta
            reach[free] -= delta
            col = nxt
            if owner[col] == 0:
                break
        while col != 0:  # flip the path: each column takes the row of the one before it
            prev = way[col]
            owner[col] = owner[prev]
            col = prev
    return sorted((int(owner[j]) - 1, j - 1) for j in range(1, m + 1) if owner[j] != 0)


def _groups(allowed: npt.NDArray[np.bool_]) -> list[tuple[list[int], list[int]]]:
    """Connected groups of rows and columns linked by allowed pairs."""
    n = allowed.shape[0]
    parent = list(range(n + allowed.shape[1]))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    rows, cols = np.nonzero(allowed)
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        a, b = find(r), find(n + c)
        if a != b:
            parent[a] = b
    groups: dict[int, tuple[list[int], list[int]]] = {}
    for r in sorted(set(rows.tolist())):
        groups.setdefault(find(r), ([], []))[0].append(r)
    for c in sorted(set(cols.tolist())):
        groups.setdefault(find(n + c), ([], []))[1].append(c)
    return list(groups.values())


def match(similarity: F, threshold: float) -> tuple[list[tuple[int, int]], list[int], list[int]]:
    """Optimal pairs (row, col) with similarity >= threshold; returns (pairs, unmatched rows, unmatched cols).

    Maximises the sum of (similarity - threshold) over the pairs made.
    """
    sim = np.asarray(similarity, dtype=np.float64)
    n, m = sim.shape
    pairs: list[tuple[int, int]] = []
    if n and m:
        allowed = sim >= threshold
        for rows, cols in _groups(allowed):
            sub = sim[np.ix_(rows, cols)]
            if len(rows) == 1 or len(cols) == 1:
                k = int(np.argmax(sub))
                r, c = divmod(k, len(cols))
                pairs.append((rows[r], cols[c]))
                continue
            cost = np.where(allowed[np.ix_(rows, cols)], threshold - sub, 0.0)
            for r, c in min_cost_assignment(cost):
                if sub[r, c] >= threshold:
                    pairs.append((rows[r], cols[c]))
    pairs.sort()
    used_r = {r for r, _ in pairs}
    used_c = {c for _, c in pairs}
    return pairs, [r for r in range(n) if r not in used_r], [c for c in range(m) if c not in used_c]
