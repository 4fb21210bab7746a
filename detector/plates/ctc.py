"""CTC scoring of candidate plate texts against a recogniser's per-frame probabilities.

A CTC recogniser outputs, for each horizontal step of the text line, a probability for every symbol and
for "blank". Greedy decoding takes the best symbol at each step; it cannot weigh a whole alternative
reading (``5AOJ230`` against ``5A0J230``) nor pool several views of the same plate. The forward algorithm
gives the probability that a view spells exactly a given text, summed over all alignments, so
candidates from every view, their letter/digit variants and grammar repairs can be compared on the
evidence of all views at once (the sum of their log-likelihoods).

Matrices here are `LineProbs`: (T, 1 + 36) probabilities, column 0 = blank (separators folded in, since
a plate key has none), then `PLATE_ALPHABET` (0-9, A-Z).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

PLATE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_INDEX = {ch: i + 1 for i, ch in enumerate(PLATE_ALPHABET)}
_FLOOR = 1e-8

LineProbs = npt.NDArray[np.float32]


def label_indices(text: str) -> list[int]:
    """Column indices of a plate key (A-Z0-9 only; ValueError names any other character)."""
    try:
        return [_INDEX[c] for c in text]
    except KeyError as exc:
        raise ValueError(f"plate key {text!r} has a character outside A-Z0-9: {exc.args[0]!r}") from None


def merge_symbol(probs: LineProbs, src: str, dst: str) -> LineProbs:
    """A copy of `probs` in which symbol `src` can no longer be read: its probability goes to `dst`
    (for a region whose plates print one glyph for both, such as O and 0 where O is never used)."""
    out = probs.copy()
    out[:, _INDEX[dst]] += out[:, _INDEX[src]]
    out[:, _INDEX[src]] = 0.0
    return out


def _forward(logp: npt.NDArray[np.float64], labels: Sequence[Sequence[int]]) -> npt.NDArray[np.float64]:
    """Log forward variables at the last step, (K, 2L+1), for K labels of one length L.

    The extended label is (blank, l1, blank, ..., lL, blank); all K labels advance together."""
    steps = logp.shape[0]
    k = len(labels)
    length = len(labels[0]) if k else 0
    ext = np.zeros((k, 2 * length + 1), dtype=np.int64)
    if length:
        ext[:, 1::2] = np.asarray(labels, dtype=np.int64).reshape(k, length)
    n = ext.shape[1]
    # a skip from s-2 to s is allowed onto a symbol that differs from the symbol before it
    skip = np.zeros((k, n), dtype=bool)
    if n > 3:
        skip[:, 3::2] = ext[:, 3::2] != ext[:, 1:-2:2]
    emit = logp[:, ext]  # (T, K, n)
    alpha = np.full((k, n), -np.inf)
    alpha[:, 0] = emit[0, :, 0]
    if n > 1:
        alpha[:, 1] = emit[0, :, 1]
    pad1 = np.full((k, 1), -np.inf)
    pad2 = np.full((k, 2), -np.inf)
    for t in range(1, steps):
        prev1 = np.concatenate((pad1, alpha[:, :-1]), axis=1)
        prev2 = np.where(skip, np.concatenate((pad2, alpha[:, :-2]), axis=1), -np.inf)
        alpha = np.logaddexp(np.logaddexp(alpha, prev1), prev2) + emit[t]
    return alpha


def _log(probs: LineProbs) -> npt.NDArray[np.float64]:
    return np.log(np.maximum(probs.astype(np.float64), _FLOOR))


def batch_log_likelihoods(probs: LineProbs, labels: Sequence[Sequence[int]]) -> npt.NDArray[np.float64]:
    """log P(the line reads exactly label) for each of K labels of one length, (K,)."""
    if not labels:
        return np.zeros(0)
    if probs.shape[0] == 0:
        return np.full(len(labels), -np.inf)
    alpha = _forward(_log(probs), labels)
    if alpha.shape[1] == 1:
        return alpha[:, 0]
    return np.logaddexp(alpha[:, -1], alpha[:, -2])


def batch_prefix_log_likelihoods(
    probs: LineProbs, labels: Sequence[Sequence[int]]
) -> npt.NDArray[np.float64]:
    """log P(the line reads exactly label[:i]) for i = 0..L, for K labels of one length L: (K, L+1)."""
    length = len(labels[0]) if labels else 0
    out = np.full((len(labels), length + 1), -np.inf)
    if not labels or probs.shape[0] == 0:
        return out
    alpha = _forward(_log(probs), labels)
    out[:, 0] = alpha[:, 0]
    if length:
        out[:, 1:] = np.logaddexp(alpha[:, 1::2], alpha[:, 2::2])
    return out


def log_likelihood(probs: LineProbs, text: str) -> float:
    """log P(the line reads exactly `text`) under CTC (summed over all alignments)."""
    return float(batch_log_likelihoods(probs, [label_indices(text)])[0])


def prefix_log_likelihoods(probs: LineProbs, text: str) -> npt.NDArray[np.float64]:
    """log P(the line reads exactly text[:i]) for i = 0..len(text) (one forward pass)."""
    return batch_prefix_log_likelihoods(probs, [label_indices(text)])[0]


def batch_two_row_log_likelihoods(
    top: LineProbs, bottom: LineProbs, labels: Sequence[Sequence[int]]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """For K labels of one length, the best split into a top row and a bottom row:
    (log P(top) + log P(bottom), split index), each (K,).

    The bottom row's suffix likelihoods come from the forward pass run backwards in time on the
    reversed labels (CTC is symmetric under reversal). Each row holds at least one character."""
    pre = batch_prefix_log_likelihoods(top, labels)  # pre[k, i] = log P(top == label_k[:i])
    rev = [list(lab)[::-1] for lab in labels]
    suf = batch_prefix_log_likelihoods(bottom[::-1], rev)[:, ::-1]  # suf[k, i] = log P(bottom == label_k[i:])
    both = pre + suf
    both[:, 0] = both[:, -1] = -np.inf
    split = both.argmax(axis=1)
    return both[np.arange(len(labels)), split], split


def two_row_log_likelihood(top: LineProbs, bottom: LineProbs, text: str) -> tuple[float, int]:
    """`batch_two_row_log_likelihoods` for one text: (log-likelihood, split index)."""
    score, split = batch_two_row_log_likelihoods(top, bottom, [label_indices(text)])
    return float(score[0]), int(split[0])
