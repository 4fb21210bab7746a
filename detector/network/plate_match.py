"""Do two plate readings name the same vehicle? And does a reading name a wanted plate?

A reading is its candidate list (text, confidence), best first, as the plate reader stores it
(`PlateRead.candidates`, the bundle's `plate.candidates`). Keys are compared after folding the
letter O into the digit 0 (one glyph on many plates; Vietnamese plates carry no letter O).

- `match_readings(a, b)`: the overlap of the two candidate distributions, sum over keys of
  min(p_a, p_b): 1.0 when both readers are sure of the same key, the smaller confidence when the
  right key is only a lower candidate at one end, 0 when no candidate is shared. When no candidate
  is shared but the top reads differ by one OCR-confusable character (B/8, S/5, D/0, I/1, ...), the
  match is `tolerant` with half the weaker top confidence: it can only ever go to review.
- `match_wanted(reading, wanted)`: exact (a candidate equals the wanted key) or tolerant (the top
  read differs from it by one character, said as such).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from detector.plates.grammar import TO_DIGIT, TO_LETTER, normalize_plate

MatchKind = Literal["exact", "candidates", "tolerant", "none"]
#: Pairs of characters OCR takes for each other (the reader's own confusion tables, both ways).
CONFUSABLE = frozenset(
    {(a, b) for a, b in TO_DIGIT.items()}
    | {(b, a) for a, b in TO_DIGIT.items()}
    | {(a, b) for a, b in TO_LETTER.items()}
    | {(b, a) for a, b in TO_LETTER.items()}
)
TOLERANT_FACTOR = 0.5


def fold(key: str) -> str:
    """Comparison key: normalised, the letter O read as the digit 0."""
    return normalize_plate(key).replace("O", "0")


@dataclass(frozen=True, slots=True)
class Reading:
    """A plate reading: candidates (text, confidence), best first; confidences in [0, 1]."""

    candidates: tuple[tuple[str, float], ...]

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, float]]) -> Reading:
        merged: dict[str, float] = {}
        for text, p in pairs:
            k = fold(text)
            if k and p > 0:
                merged[k] = merged.get(k, 0.0) + float(p)
        total = sum(merged.values())
        scale = 1.0 / total if total > 1.0 else 1.0  # never claim more than certainty
        ranked = sorted(merged.items(), key=lambda kv: -kv[1])
        return cls(tuple((k, p * scale) for k, p in ranked))

    @property
    def top(self) -> tuple[str, float] | None:
        return self.candidates[0] if self.candidates else None

    def p(self, key: str) -> float:
        return next((p for k, p in self.candidates if k == key), 0.0)


@dataclass(frozen=True, slots=True)
class PlateMatch:
    kind: MatchKind
    confidence: float
    key: str | None  # the plate both readings agree on (the first reading's key for a tolerant match)
    detail: str


def one_substitution(a: str, b: str) -> tuple[int, str, str] | None:
    """(position, char in a, char in b) when `a` and `b` differ in exactly one position."""
    if len(a) != len(b):
        return None
    diff = [(i, x, y) for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    return diff[0] if len(diff) == 1 else None


def match_readings(a: Reading, b: Reading) -> PlateMatch:
    """How sure we are that readings `a` and `b` are the same plate (see the module doc)."""
    ta, tb = a.top, b.top
    if ta is None or tb is None:
        return PlateMatch("none", 0.0, None, "a reading without candidates")
    keys = {k for k, _ in a.candidates} & {k for k, _ in b.candidates}
    if keys:
        overlap = sum(min(a.p(k), b.p(k)) for k in keys)
        best = max(keys, key=lambda k: min(a.p(k), b.p(k)))
        kind: MatchKind = "exact" if ta[0] == tb[0] else "candidates"
        detail = (
            f"top reads agree on {best}"
            if kind == "exact"
            else f"{best} is a candidate of both ({a.p(best):.2f} / {b.p(best):.2f}); "
            f"top reads {ta[0]} / {tb[0]}"
        )
        return PlateMatch(kind, min(1.0, overlap), best, detail)
    sub = one_substitution(ta[0], tb[0])
    if sub is not None and (sub[1], sub[2]) in CONFUSABLE:
        i, x, y = sub
        return PlateMatch(
            "tolerant",
            TOLERANT_FACTOR * min(ta[1], tb[1]),
            ta[0],
            f"top reads {ta[0]} / {tb[0]} differ only at position {i + 1} ({x}/{y}, an OCR confusion)",
        )
    return PlateMatch("none", 0.0, None, f"no shared candidate ({ta[0]} / {tb[0]})")


def match_wanted(reading: Reading, wanted_keys: Sequence[str]) -> list[tuple[str, PlateMatch]]:
    """Wanted keys this reading may be, best first: exact when a candidate is the wanted key (the
    confidence is that candidate's), tolerant when the top read is one character away from it."""
    out: list[tuple[str, PlateMatch]] = []
    top = reading.top
    for w in wanted_keys:
        wk = fold(w)
        p = reading.p(wk)
        if p > 0:
            rank = "top read" if top is not None and top[0] == wk else "a candidate"
            out.append((w, PlateMatch("exact", p, wk, f"{rank} is the wanted plate {wk} ({p:.2f})")))
            continue
        if top is None:
            continue
        sub = one_substitution(top[0], wk)
        if sub is not None:
            i, x, y = sub
            why = "an OCR confusion" if (x, y) in CONFUSABLE else "one character misread"
            out.append(
                (
                    w,
                    PlateMatch(
                        "tolerant",
                        TOLERANT_FACTOR * top[1],
                        wk,
                        f"read {top[0]}, wanted {wk}: differs at position {i + 1} ({x}/{y}, {why})",
                    ),
                )
            )
    return sorted(out, key=lambda wm: -wm[1].confidence)
