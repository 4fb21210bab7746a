"""Per-track plate voting: pick the best frames, vote per character, keep the top candidates.

Each observation is one OCR reading of the plate on one frame. Observations whose length is the most
supported vote position by position (each character weighted by its OCR confidence); readings of a
different length are aligned to that consensus (Levenshtein alignment) and vote where they line up, so a
reading that dropped or added one character still counts for the rest.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from detector.plates.detect import PlateBox
from detector.plates.grammar import notice_colour, repair_plate
from detector.platetext import normalize_plate
from detector.types import PlateCandidate, PlateRead

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PlateObservation:
    """One reading of a plate on one frame (or one photo).

    `normalized` is the lookup key after the country's grammar (VN letter/digit repair), `text` the
    display form, `raw_text` what the OCR said. `char_confidences` has one value per character of
    `normalized`. `box` is in the coordinates of the image the plate was found in (the full frame).
    """

    frame_index: int
    text: str
    normalized: str
    raw_text: str
    confidence: float
    char_confidences: tuple[float, ...]
    rows: int
    valid: bool
    country: str
    colour: str | None = None
    box: PlateBox | None = None
    sharpness: float = 0.0
    #: the state (US) whose formats the reading was chosen with: named on the plate, or configured
    region: str | None = None
    #: how square-on the plate is seen, 0-1 (`detector.plates.pose`: tilt and foreshortening)
    frontality: float = 1.0

    @property
    def quality(self) -> float:
        """Frame quality for picking frames to vote over: sharp, big, confidently detected plates seen
        square on."""
        height = self.box.height if self.box else 32.0
        det = self.box.confidence if self.box else 1.0
        return plate_quality(height, det, self.sharpness, self.frontality)


def plate_quality(
    height_px: float, detection_confidence: float, sharpness: float, frontality: float = 1.0
) -> float:
    """Score of a plate sighting: plate height (capped at 80 px, beyond which OCR gains nothing) x
    detection confidence x sqrt(variance of Laplacian, capped) x frontality (the share of plates the
    recogniser still reads at the angle the plate is seen at)."""
    return min(height_px, 80.0) * detection_confidence * min(sharpness, 2000.0) ** 0.5 * frontality


def select_best(observations: Sequence[PlateObservation], k: int) -> list[PlateObservation]:
    """The `k` observations of highest quality (plate height x detection confidence x sharpness x
    frontality)."""
    return sorted(observations, key=lambda o: o.quality, reverse=True)[:k]


def _align(a: str, b: str) -> list[tuple[int, int]]:
    """Pairs (i, j) of positions of `a` and `b` that a minimum edit script matches or substitutes."""
    n, m = len(a), len(b)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        d[i][0] = i
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
    pairs: list[tuple[int, int]] = []
    i, j = n, m
    while i > 0 and j > 0:
        if d[i][j] == d[i - 1][j - 1] + (a[i - 1] != b[j - 1]):
            pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif d[i][j] == d[i - 1][j] + 1:
            i -= 1
        else:
            j -= 1
    return pairs[::-1]


def _char_confs(o: PlateObservation) -> tuple[float, ...]:
    if len(o.char_confidences) == len(o.normalized):
        return o.char_confidences
    return (o.confidence,) * len(o.normalized)


def consensus(obs: Sequence[PlateObservation]) -> tuple[str, list[float]]:
    """Character-wise weighted vote. Returns the text and per-position support in 0..1."""
    length_weight: dict[int, float] = defaultdict(float)
    for o in obs:
        length_weight[len(o.normalized)] += o.confidence
    length = max(length_weight, key=lambda n: (length_weight[n], n))
    votes: list[dict[str, float]] = [defaultdict(float) for _ in range(length)]
    voters = [0] * length
    same = [o for o in obs if len(o.normalized) == length]
    for o in same:
        for pos, (ch, c) in enumerate(zip(o.normalized, _char_confs(o), strict=True)):
            votes[pos][ch] += c
            voters[pos] += 1
    draft = "".join(max(v, key=lambda ch: v[ch]) for v in votes)
    for o in obs:
        if len(o.normalized) == length or not o.normalized:
            continue
        confs = _char_confs(o)
        for i, j in _align(draft, o.normalized):
            votes[i][o.normalized[j]] += confs[j]
            voters[i] += 1
    text = "".join(max(v, key=lambda ch: v[ch]) for v in votes)
    support = [votes[p][text[p]] / max(voters[p], 1) for p in range(length)]
    return text, support


def vote(
    observations: Sequence[PlateObservation],
    min_confidence: float = 0.85,
    top_k: int = 3,
    country: str = "vn",
) -> PlateRead | None:
    """Combine the readings of one plate into a `PlateRead`; None when nothing was read.

    The result's confidence is that of its least supported character. It `needs_review` when that is
    below `min_confidence`, any character has less than half the votes, or (country 'vn') the
    consensus is not a valid Vietnamese plate.
    """
    obs = [o for o in observations if o.normalized]
    if not obs:
        return None
    rows = Counter(o.rows for o in obs).most_common(1)[0][0]
    text, support = consensus(obs)
    valid = True
    display = text
    colours = Counter(o.colour for o in obs if o.colour)
    colour = colours.most_common(1)[0][0] if colours else None
    if country == "vn":
        # the display form of a reading of this text keeps where its rows part (30E-586.70, a square
        # car plate, against 30-E5 8670, a motorbike's): its separators decide, not the row count
        shown_as = next((o.text for o in obs if o.normalized == text and o.valid), None)
        plate = repair_plate(shown_as, None) if shown_as else None
        plate = plate if plate is not None and plate.normalized == text else repair_plate(text, rows)
        valid = plate is not None
        if plate is not None:
            text, display = plate.normalized, plate.display
        # the colour the notice states: fixed by a special plate's category (military: red), else
        # measured on the image where the category allows it (civil: white, yellow or blue)
        colour = notice_colour(plate, colour)
    else:
        valid = 4 <= len(text) <= 10
    # a plate is as trustworthy as its weakest character (a wrong plate is wrong in one character)
    confidence = min(support) if support else 0.0

    # candidates: the consensus first, then each distinct reading by total confidence
    weight: dict[str, float] = defaultdict(float)
    shown: dict[str, str] = {}
    for o in obs:
        weight[o.normalized] += o.confidence / len(obs)
        shown.setdefault(o.normalized, o.text)
    cands = [PlateCandidate(display, round(confidence, 4))]
    for key in sorted(weight, key=lambda k: weight[k], reverse=True):
        if key != text and len(cands) < top_k:
            cands.append(PlateCandidate(shown[key], round(weight[key], 4)))
    needs_review = confidence < min_confidence or min(support, default=0.0) < 0.5 or not valid
    if needs_review:
        log.debug("plate %s needs review (conf %.3f, valid %s)", display, confidence, valid)
    return PlateRead(
        text=display,
        normalized=normalize_plate(text),
        confidence=round(confidence, 4),
        candidates=tuple(cands),
        rows=rows,
        colour=colour,
        country=country if valid else "unknown",
        needs_review=needs_review,
        frames_used=tuple(sorted({o.frame_index for o in obs})),
    )


class PlateVoter:
    """Collects observations of one track and keeps the best `max_frames` of them for the vote."""

    def __init__(
        self, max_frames: int = 5, min_confidence: float = 0.85, top_k: int = 3, country: str = "vn"
    ):
        self.max_frames = max_frames
        self.min_confidence = min_confidence
        self.top_k = top_k
        self.country = country
        self._obs: list[PlateObservation] = []

    def add(self, observation: PlateObservation | None) -> None:
        if observation is None:
            return
        self._obs.append(observation)
        if len(self._obs) > self.max_frames:
            self._obs = select_best(self._obs, self.max_frames)

    def __len__(self) -> int:
        return len(self._obs)

    def result(self) -> PlateRead | None:
        return vote(self._obs, self.min_confidence, self.top_k, self.country)
