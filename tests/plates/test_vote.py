"""Voting over a track's frames: per-character votes, unequal lengths, review flags, best frames."""

from __future__ import annotations

import cv2
import numpy as np

from detector.plates.detect import PlateBox
from detector.plates.reader import PlateReader
from detector.plates.vote import PlateObservation, PlateVoter, consensus, select_best, vote
from tests.plates.support import VN, image


def obs(
    text: str,
    conf: float = 0.95,
    frame: int = 0,
    rows: int = 1,
    sharp: float = 400.0,
    h: float = 30.0,
    colour: str | None = "white",
) -> PlateObservation:
    return PlateObservation(
        frame_index=frame, text=text, normalized=text, raw_text=text, confidence=conf,
        char_confidences=(conf,) * len(text), rows=rows, valid=True, country="vn", colour=colour,
        box=PlateBox((0.0, 0.0, 4 * h, h), 0.9), sharpness=sharp,
    )  # fmt: skip


def test_majority_per_character_beats_every_single_misread() -> None:
    # each frame has one different wrong character; no frame is right, the vote is
    reads = [obs("51F12845", frame=1), obs("51F72345", frame=2), obs("5lF12345".upper(), frame=3),
             obs("51F12345", 0.7, frame=4), obs("S1F12345", frame=5)]  # fmt: skip
    r = vote(reads, min_confidence=0.7)
    assert r is not None
    assert r.normalized == "51F12345"
    assert r.text == "51F-123.45"
    assert r.frames_used == (1, 2, 3, 4, 5)
    assert r.candidates[0].text == "51F-123.45"
    assert len(r.candidates) == 3
    assert r.colour == "white" and r.country == "vn"


def test_different_lengths_are_aligned() -> None:
    text, support = consensus([obs("59X112345"), obs("59X11234"), obs("59X112345"), obs("559X112345", 0.6)])
    assert text == "59X112345"
    assert len(support) == 9 and min(support) > 0.5
    # a dropped character in the majority-length readings is filled by the aligned others
    text2, _ = consensus([obs("ABC123"), obs("ABC123"), obs("ABC1234", 0.99)])
    assert text2 == "ABC123"


def test_low_confidence_needs_review() -> None:
    r = vote([obs("51F12345", 0.6)], min_confidence=0.85)
    assert r is not None and r.needs_review
    r2 = vote([obs("51F12345", 0.97), obs("51F12345", 0.95)], min_confidence=0.85)
    assert r2 is not None and not r2.needs_review and r2.confidence > 0.9


def test_split_vote_needs_review() -> None:
    r = vote([obs("51F12345", 0.95), obs("51F12346", 0.95)], min_confidence=0.5)
    assert r is not None and r.needs_review  # last character has half the votes


def test_invalid_vn_plate_needs_review_even_when_confident() -> None:
    r = vote([obs("13A12345", 0.99), obs("13A12345", 0.99)], min_confidence=0.5)  # 13 is no area code
    assert r is not None and r.needs_review and r.country == "unknown"
    g = vote([obs("AYO9034", 0.99)], min_confidence=0.5, country="generic")
    assert g is not None and not g.needs_review


def test_nothing_read_gives_none() -> None:
    assert vote([]) is None
    assert vote([obs("", 0.0)]) is None
    voter = PlateVoter()
    voter.add(None)
    assert len(voter) == 0 and voter.result() is None


def test_voter_keeps_the_best_frames() -> None:
    voter = PlateVoter(max_frames=2, min_confidence=0.5)
    voter.add(obs("51F99999", frame=1, sharp=5.0, h=8.0))  # blurred and tiny
    voter.add(obs("51F12345", frame=2, sharp=900.0))
    voter.add(obs("51F12345", frame=3, sharp=700.0))
    assert len(voter) == 2
    r = voter.result()
    assert r is not None and r.normalized == "51F12345" and r.frames_used == (2, 3)
    assert [o.frame_index for o in select_best([obs("A", frame=1, sharp=1), obs("A", frame=2)], 1)] == [2]


def _degrade(crop: np.ndarray, k: int) -> np.ndarray:
    """Frame k of a simulated track: the plate at several sizes, blurs and exposures."""
    h, w = crop.shape[:2]
    scale = (0.18, 0.25, 0.35, 0.5, 0.12)[k]
    small = cv2.resize(crop, (max(8, int(w * scale)), max(8, int(h * scale))), interpolation=cv2.INTER_AREA)
    if k in (1, 4):
        small = cv2.GaussianBlur(small, (5, 5), 1.5)
    return cv2.convertScaleAbs(small, alpha=(1.0, 0.7, 1.2, 1.0, 0.8)[k], beta=(0, 30, -20, 0, 10)[k])


def test_vote_over_real_degraded_frames(models_reader: PlateReader) -> None:
    crop = image(VN / "11xemay1015.jpg")
    observations = [models_reader.read_crop(_degrade(crop, k), frame_index=k) for k in range(5)]
    read = models_reader.vote([o for o in observations if o is not None])
    assert read is not None
    assert read.normalized == "59X275198"
    assert read.text == "59-X2 751.98"
    assert read.rows == 2
    assert len(read.frames_used) >= 3
