"""Choose a plate's reading by rescoring candidates on every view's CTC probabilities plus a format prior.

Each view of a plate (a differently cut copy of the line, see `layouts.line_views`, read by one or two
recognisers) gives its greedy reading. Those readings, their single letter/digit swaps (O/0, I/1,
B/8, ...), one-character drops and the grammar's repairs are the candidates. Each candidate is
scored by its mean log-likelihood over the views (`ctc`) plus a prior: the country's grammar (a valid
Vietnamese plate) or a format of the configured region (`formats`). The winner's confidence is its
posterior among the candidates; a character's confidence is the posterior mass of the candidates that
agree with it there, so an O that could as well be a 0 shows up as an uncertain character.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from detector.plates.ctc import (
    PLATE_ALPHABET,
    LineProbs,
    batch_log_likelihoods,
    batch_two_row_log_likelihoods,
    label_indices,
    merge_symbol,
)
from detector.plates.formats import formats_for, letter_o_used, matches
from detector.plates.grammar import TO_DIGIT, TO_LETTER, parse_plate, repair_plate
from detector.platetext import normalize_plate

#: Pairs of characters that share (nearly) one glyph on plates; each seed is varied one swap at a time.
CONFUSABLE: dict[str, str] = {
    "0": "OQD",
    "O": "0Q",
    "Q": "O0",
    "D": "0",
    "1": "I",
    "I": "1",
    "8": "B",
    "B": "8",
    "5": "S",
    "S": "5",
    "2": "Z",
    "Z": "2",
    "6": "G",
    "G": "6",
}

#: Log-prior bonus of a reading that fits a format of the configured region / of the whole country,
#: and of a valid Vietnamese plate. Tuned on the development splits (see benchmarks/results/plates.md).
REGION_BONUS = 5.0
COUNTRY_BONUS = 3.0
VN_VALID_BONUS = 4.0
#: At most this many candidates are scored (seeds and their variants, in order) to bound the cost.
MAX_CANDIDATES = 256

View = tuple[LineProbs, ...]  # one line (one row) or (top, bottom) for a two-row plate


@dataclass(frozen=True, slots=True)
class Choice:
    """The chosen reading of one plate layout."""

    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    #: (text, posterior) of the best candidates, best first
    ranked: tuple[tuple[str, float], ...]


def _variants(seed: str) -> Iterable[str]:
    yield seed
    for i, ch in enumerate(seed):
        for alt in CONFUSABLE.get(ch, ""):
            yield seed[:i] + alt + seed[i + 1 :]
    if len(seed) >= 5:  # a stray mark read as a character: a bolt, a sticker, a dash, an emblem
        for i in range(len(seed)):
            yield seed[:i] + seed[i + 1 :]


def _fit_format(seed: str, fmt: str) -> str | None:
    """`seed` with letters/digits swapped (confusion tables) where `fmt` wants the other class."""
    out = []
    for ch, cls in zip(seed, fmt, strict=True):
        if cls == "N" and not ch.isdigit():
            ch = TO_DIGIT.get(ch, "")
        elif cls == "L" and ch.isdigit():
            ch = "O" if ch == "0" else TO_LETTER.get(ch, "")
        if not ch:
            return None
        out.append(ch)
    return "".join(out)


def candidates(seeds: Sequence[str], country: str, region: str | None = None, rows: int = 1) -> list[str]:
    """The candidate readings grown from the views' readings (`seeds`, most trusted first)."""
    seen: dict[str, None] = {}
    region_fmts, country_fmts = formats_for(country, region)
    for seed in seeds:
        seed = normalize_plate(seed)
        if not seed:
            continue
        for v in _variants(seed):
            seen.setdefault(v, None)
        if country == "vn":
            plate = repair_plate(seed, rows)
            if plate is not None:
                seen.setdefault(plate.normalized, None)
        for fmt in (*region_fmts, *country_fmts):
            if len(fmt) == len(seed):
                fitted = _fit_format(seed, fmt)
                if fitted:
                    seen.setdefault(fitted, None)
    out = [c for c in seen if c]
    if not letter_o_used(country, region):  # the region prints no letter O: its glyph is the digit 0
        out = list(dict.fromkeys(c.replace("O", "0") for c in out))
    return out[:MAX_CANDIDATES]


def prior(text: str, country: str, region: str | None = None, rows: int | None = None) -> float:
    """Log-prior bonus of a candidate under the reader's grammar and formats."""
    if country == "vn":
        if rows is not None and text == normalize_plate(text):
            # A repair changes a character, so a repaired plate's key is never `text`: for a text in key
            # form with its rows known, the plain parse gives the same answer at a fraction of the cost
            # (it runs on every substitution of the chosen reading, some 300 a plate).
            plate = parse_plate(text, rows)
        else:
            plate = repair_plate(text, rows)
        return VN_VALID_BONUS if plate is not None and plate.normalized == text else 0.0
    region_fmts, country_fmts = formats_for(country, region)
    if region_fmts and matches(text, region_fmts):
        return REGION_BONUS
    if country_fmts and matches(text, country_fmts):
        return COUNTRY_BONUS
    return 0.0


def view_scores(cands: Sequence[str], views: Sequence[View]) -> npt.NDArray[np.float64]:
    """Mean log-likelihood of each candidate over the views (one- or two-row)."""
    total = np.zeros(len(cands))
    by_len: dict[int, list[int]] = {}
    for k, c in enumerate(cands):
        by_len.setdefault(len(c), []).append(k)
    for idx in by_len.values():
        labels = [label_indices(cands[k]) for k in idx]
        acc = np.zeros(len(idx))
        for view in views:
            if len(view) == 1:
                acc += batch_log_likelihoods(view[0], labels)
            else:
                acc += batch_two_row_log_likelihoods(view[0], view[1], labels)[0]
        total[idx] = acc / max(1, len(views))
    return total


def substitutions(text: str) -> list[str]:
    """`text` with each character replaced by every other plate character, one position at a time."""
    return [text[:i] + c + text[i + 1 :] for i in range(len(text)) for c in PLATE_ALPHABET if c != text[i]]


def choose(
    seeds: Sequence[str],
    views: Sequence[View],
    country: str,
    region: str | None = None,
    rows: int = 1,
    top_k: int = 5,
    substitute: bool | None = None,
) -> Choice | None:
    """Best candidate grown from `seeds`, scored on `views`; None when there is nothing to score.

    With `substitute` (default: country vn, where it was measured) a character's confidence is its
    posterior at that position: the best reading is scored against
    every reading that differs from it in that one position (any plate character there, with the
    grammar's prior) and among the other candidates of its length; the share of the mass that agrees
    with it there is its confidence. A 9 that the views could as well read as an 8 is then uncertain,
    whether or not 8/9 is a known confusion."""
    cands = candidates(seeds, country, region, rows)
    if not cands or not views:
        return None
    if not letter_o_used(country, region):
        views = [tuple(merge_symbol(p, "O", "0") for p in view) for view in views]
    scores = _scores(cands, views, country, region, rows)
    if not np.isfinite(scores).any():
        return None
    first = cands[int(np.argmax(scores))]
    if substitute is None:
        substitute = country == "vn"
    known = set(cands)
    subs = [c for c in substitutions(first) if c not in known] if substitute else []
    if not letter_o_used(country, region):
        subs = [c for c in subs if "O" not in c]
    if subs:
        cands = cands + subs
        scores = np.concatenate([scores, _scores(subs, views, country, region, rows)])
    post = np.exp(scores - scores.max())
    post /= post.sum()
    order = np.argsort(-post)
    best = cands[int(order[0])]
    same = [k for k, c in enumerate(cands) if len(c) == len(best)]
    # a character's mass: the candidates of the best's length that agree with it there (readings of
    # another length count against every character)
    char_conf = [sum(float(post[k]) for k in same if cands[k][i] == ch) for i, ch in enumerate(best)]
    ranked = tuple((cands[int(k)], float(post[k])) for k in order[:top_k])
    return Choice(best, float(post[order[0]]), tuple(char_conf), ranked)


def _scores(
    cands: Sequence[str], views: Sequence[View], country: str, region: str | None, rows: int
) -> npt.NDArray[np.float64]:
    if not cands:
        return np.zeros(0)
    scores = view_scores(cands, views) + np.array([prior(c, country, region, rows) for c in cands])
    return np.where(np.isfinite(scores), scores, -np.inf)
