"""CTC scoring, plate formats and the rescoring choice: exact checks on small generated matrices, then
the behaviour on real openalpr crops where the format prior decides between identical glyphs."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from detector.config import PlatesConfig
from detector.configcheck import check_plates
from detector.plates.ctc import (
    PLATE_ALPHABET,
    batch_log_likelihoods,
    log_likelihood,
    merge_symbol,
    prefix_log_likelihoods,
    two_row_log_likelihood,
)
from detector.plates.formats import (
    US_NO_LETTER_O,
    US_STATE_FORMATS,
    formats_for,
    is_state_name,
    letter_o_used,
    matches,
    state_named_in,
)
from detector.plates.ocr import PlateOcr
from detector.plates.reader import PlateReader
from detector.plates.rescore import candidates, choose, prior
from tests.plates.support import OPENALPR, image


def _collapse(path: tuple[int, ...]) -> tuple[int, ...]:
    out, prev = [], None
    for s in path:
        if s != prev and s != 0:
            out.append(s)
        prev = s
    return tuple(out)


def _brute_force(probs: np.ndarray, symbols: list[int]) -> dict[tuple[int, ...], float]:
    """P(output) for every output, by enumerating every path over blank + `symbols`."""
    total: dict[tuple[int, ...], float] = {}
    for path in itertools.product([0, *symbols], repeat=probs.shape[0]):
        p = float(np.prod([probs[t, s] for t, s in enumerate(path)]))
        key = _collapse(path)
        total[key] = total.get(key, 0.0) + p
    return total


def _text(label: tuple[int, ...]) -> str:
    return "".join(PLATE_ALPHABET[i - 1] for i in label)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ctc_likelihood_equals_the_sum_over_all_paths(seed: int) -> None:
    rng = np.random.default_rng(seed)
    probs: npt.NDArray[Any] = rng.random((6, 37))  # float64 on purpose: exact to 1e-9 below
    probs[:, 4:] = 0.0  # blank and three symbols ('0', '1', '2'): few enough paths to enumerate
    probs /= probs.sum(axis=1, keepdims=True)
    truth = _brute_force(probs, [1, 2, 3])
    for label in [(1,), (1, 2), (1, 1), (3, 1, 3), (2, 2, 2), (1, 2, 3, 1)]:
        expected = np.log(truth.get(label, 1e-300))
        assert log_likelihood(probs, _text(label)) == pytest.approx(expected, rel=1e-9, abs=1e-9)
    # prefixes: P(output == text[:i]) from one pass
    pre = prefix_log_likelihoods(probs, "012")
    for i, label in enumerate([(), (1,), (1, 2), (1, 2, 3)]):
        assert pre[i] == pytest.approx(np.log(truth.get(label, 1e-300)), rel=1e-9, abs=1e-9)
    # the batched form gives the same numbers as one label at a time
    labels = [[1, 2], [2, 1], [3, 3]]
    batch = batch_log_likelihoods(probs, labels)
    single = [log_likelihood(probs, _text(tuple(lab))) for lab in labels]
    assert batch == pytest.approx(single)


def test_ctc_rejects_characters_outside_the_plate_alphabet() -> None:
    with pytest.raises(ValueError, match="outside A-Z0-9"):
        log_likelihood(np.full((4, 37), 1 / 37, np.float32), "AB-1")


def spell(chars: list[dict[str, float]], blank: float = 0.98) -> np.ndarray:
    """A CTC matrix that spells one character per step, separated by blank steps: each step's
    distribution is given as {char: probability}, the rest spread evenly."""
    rows = [np.full(37, (1 - blank) / 36)]
    rows[0][0] = blank
    for dist in chars:
        row = np.full(37, (1.0 - sum(dist.values())) / (37 - len(dist)))
        for ch, p in dist.items():
            row[PLATE_ALPHABET.index(ch) + 1] = p
        rows += [row, rows[0].copy()]
    return np.array(rows, dtype=np.float32)


def sure(text: str, p: float = 0.95) -> list[dict[str, float]]:
    return [{c: p} for c in text]


def test_two_row_likelihood_finds_the_row_split() -> None:
    top, bottom = spell(sure("59X1")), spell(sure("12345"))
    score, split = two_row_log_likelihood(top, bottom, "59X112345")
    assert split == 4
    assert score == pytest.approx(log_likelihood(top, "59X1") + log_likelihood(bottom, "12345"))


# the third glyph of a California plate: the recogniser leans to the digit
AMBIGUOUS_CA = [*sure("5A"), {"0": 0.55, "O": 0.43}, *sure("J230")]


def test_format_of_the_region_decides_between_identical_glyphs() -> None:
    views = [(spell(AMBIGUOUS_CA),)]
    generic = choose(["5A0J230"], views, "generic")
    assert generic is not None and generic.text == "5A0J230"
    assert generic.char_confidences[2] < 0.7  # the uncertain character shows as uncertain
    assert min(generic.char_confidences[:2] + generic.char_confidences[3:]) > 0.9
    ca = choose(["5A0J230"], views, "us", "ca")  # California: NLLLNNN
    assert ca is not None and ca.text == "5AOJ230"
    assert ca.ranked[0][0] == "5AOJ230" and "5A0J230" in dict(ca.ranked)


def test_the_prior_never_overrules_clear_evidence() -> None:
    # a vanity plate that fits no format, read clearly, stays as read (Illinois prints the letter O)
    views = [(spell(sure("C2TURBO")),)]
    got = choose(["C2TURBO"], views, "us", "il")
    assert got is not None and got.text == "C2TURBO" and got.confidence > 0.9
    # a clear digit in a letter position of the region's format is not swapped
    views = [(spell(sure("5A0J230", 0.99)),)]
    got = choose(["5A0J230"], views, "us", "ca")
    assert got is not None and got.text == "5A0J230"


def test_merge_symbol_moves_the_probability_and_keeps_the_rest() -> None:
    probs = spell(AMBIGUOUS_CA)
    merged = merge_symbol(probs, "O", "0")
    o, zero = PLATE_ALPHABET.index("O") + 1, PLATE_ALPHABET.index("0") + 1
    assert np.all(merged[:, o] == 0)
    np.testing.assert_allclose(merged[:, zero], probs[:, zero] + probs[:, o], rtol=1e-6)
    np.testing.assert_allclose(merged.sum(axis=1), probs.sum(axis=1), rtol=1e-6)
    others = [k for k in range(37) if k not in (o, zero)]
    np.testing.assert_array_equal(merged[:, others], probs[:, others])
    assert probs[5, o] > 0.4  # the input is not changed (row 5: the third character's step)


def test_states_without_the_letter_o_read_its_glyph_as_zero() -> None:
    assert not letter_o_used("us", "mi") and not letter_o_used("us", "TX")
    assert (
        letter_o_used("us", "ca")
        and letter_o_used("us")
        and letter_o_used("vn")
        and letter_o_used("eu", "it")
    )
    assert set(US_STATE_FORMATS) >= US_NO_LETTER_O
    # a clearly read O on a Michigan vanity plate is the digit 0 there, and only there
    views = [(spell(sure("C2TURBO", 0.99)),)]
    mi = choose(["C2TURBO"], views, "us", "mi")
    assert mi is not None and mi.text == "C2TURB0" and mi.confidence > 0.9
    assert all("O" not in text for text, _ in mi.ranked)
    assert all("O" not in c for c in candidates(["OQK466", "C2TURBO"], "us", "mi"))
    il = choose(["C2TURBO"], views, "us", "il")
    assert il is not None and il.text == "C2TURBO"
    # O and 0 pooled: the glyph that is either is a sure 0, not a doubtful character
    views = [(spell([*sure("5A"), {"0": 0.5, "O": 0.48}, *sure("J230")]),)]
    tx = choose(["5AOJ230"], views, "us", "tx")
    assert tx is not None and tx.text == "5A0J230" and tx.char_confidences[2] > 0.9
    generic = choose(["5AOJ230"], views, "generic")
    assert generic is not None and generic.char_confidences[2] < 0.6


def test_views_are_pooled() -> None:
    # one view hallucinates a faint extra character, two do not: the pooled likelihood drops it
    clean = spell(sure("BE840"))
    noisy = spell([{"O": 0.6}, *sure("BE840")])
    got = choose(["OBE840", "BE840"], [(noisy,), (clean,), (clean,)], "generic")
    assert got is not None and got.text == "BE840"


def test_vn_grammar_prior_repairs_series_letters() -> None:
    # a car plate whose series letter looks like a digit: 51F-123.45, the recogniser leaning to 7
    views = [(spell([*sure("51"), {"7": 0.5, "F": 0.45}, *sure("12345")]),)]
    assert choose(["51712345"], views, "generic") is not None
    assert choose(["51712345"], views, "generic").text == "51712345"  # type: ignore[union-attr]
    got = choose(["51712345", "51F12345"], views, "vn", rows=1)
    assert got is not None and got.text == "51F12345"
    assert prior("51F12345", "vn", rows=1) > 0 and prior("51712345", "vn", rows=1) == 0


def test_candidates_hold_swaps_drops_and_format_fits() -> None:
    cands = candidates(["5A0J230"], "us", "ca")
    assert cands[0] == "5A0J230"
    assert {"5AOJ230", "A0J230", "5A0J23", "5AJ230", "5A0JZ30"} <= set(cands)
    assert all(c and set(c) <= set(PLATE_ALPHABET) for c in cands)


def test_formats() -> None:
    assert matches("5AOJ230", US_STATE_FORMATS["ca"])
    assert not matches("5A0J230", US_STATE_FORMATS["ca"])
    region, country = formats_for("us", "CA")
    assert region == US_STATE_FORMATS["ca"] and set(region) <= set(country)
    assert formats_for("us") == ((), country)
    assert formats_for("generic") == ((), ())
    assert matches("RK026AJ", formats_for("eu", "it")[0])
    assert matches("ABC1D23", formats_for("br")[0])  # Mercosur
    with pytest.raises(ValueError, match="unknown region 'zz'"):
        formats_for("us", "zz")


@pytest.mark.parametrize(
    ("texts", "state"),
    [
        (["Scenic IDAHO", "FAMOUS POTATOES"], "id"),
        (["myFlorida.com"], "fl"),  # letters only: MYFLORIDACOM
        (["First in Flight", "NORTH CAROLlNA"], "nc"),  # one misread letter in a long name
        (["Wild, Wonderful WEST VIRGINIA"], "wv"),  # the longest name wins over VIRGINIA
        (["WASHINGTON DC", "TAXATION WITHOUT REPRESENTATION"], "dc"),  # not WASHINGTON
        (["Evergreen State WASHINGTON"], "wa"),
        (["ARKANSAS"], "ar"),  # not KANSAS
        (["TEXSA"], None),  # short names must be read exactly
        (["THE SILVER STATE", ""], None),
        ([], None),
    ],
)
def test_state_named_on_the_plate(texts: list[str], state: str | None) -> None:
    assert state_named_in(texts) == state


def test_a_view_of_the_state_name_is_not_a_plate(padded_ocr: PlateOcr) -> None:
    assert is_state_name("TEXAS") and is_state_name("New Jersey") and is_state_name("WASHINGTON DC")
    assert not is_state_name("IDAH0HI") and not is_state_name("TEXAS1") and not is_state_name("")
    # the glyph band of this crop is found on the white TEXAS over the number: those views are dropped
    crop = image(OPENALPR / "seg_and_ocr" / "usimages" / "tx128.png")  # labelled BH8G151
    got = PlateReader(PlatesConfig(country="us", region="tx"), None, padded_ocr).read_crop(crop)
    assert got is not None and got.normalized == "BH8G151"
    # where every view reads a state's name, there is no plate reading at all
    band = crop[: int(0.3 * crop.shape[0])]
    none = PlateReader(PlatesConfig(country="us", ocr_variants=1), None, padded_ocr).read_crop(band)
    assert none is None or none.normalized != "TEXAS"


@pytest.mark.parametrize(
    ("name", "state", "plate", "without"),
    [
        # "Scenic IDAHO" above the number: Idaho prints no letter O
        ("id137.png", "id", "C0UGAR", "COUGAR"),
        # "Nebraska" above: the same rule on a serial plate
        ("ne280.png", "ne", "0JW695", "OJW695"),
        # "LOUISIANA" above: its LLLNNN format makes the round glyph a letter
        ("la163.png", "la", "OIT643", "0IT643"),
    ],
)
def test_state_read_from_the_plate_sets_the_formats(
    padded_ocr: PlateOcr, name: str, state: str, plate: str, without: str
) -> None:
    crop = image(OPENALPR / "seg_and_ocr" / "usimages" / name)
    us = PlateReader(PlatesConfig(country="us"), None, padded_ocr).read_crop(crop)
    assert us is not None and (us.normalized, us.region) == (plate, state)
    off = PlatesConfig(country="us", state_from_plate=False)
    blind = PlateReader(off, None, padded_ocr).read_crop(crop)
    assert blind is not None and blind.region is None and blind.normalized == without


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"country": "us", "region": "zz"}, "unknown region 'zz'"),
        ({"country": "vn", "region": "ca"}, "only used with country us or eu"),
        ({"country": "br", "region": "sp"}, "only used with country us or eu"),
    ],
)
def test_region_config_errors(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):  # the schema's own check, then the plate formats'
        check_plates(PlatesConfig.model_validate(settings))


@pytest.mark.parametrize(
    ("name", "region", "with_region", "without"),
    [
        # California NLLLNNN: the third glyph is the same as the zero, the format says it is a letter
        ("ca1564.png", "ca", "5AOJ230", "5A0J230"),
        # Rhode Island LLNNN
        ("ri892.png", "ri", "VO820", "V0820"),
        # Idaho and Nebraska print no letter O: the round glyph is the digit 0 (vanity plate, serial)
        ("id137.png", "id", "C0UGAR", "COUGAR"),
        ("ne90.png", "ne", "0RZ466", "ORZ466"),
    ],
)
def test_region_formats_on_real_crops(
    padded_ocr: PlateOcr, name: str, region: str, with_region: str, without: str
) -> None:
    crop = image(OPENALPR / "seg_and_ocr" / "usimages" / name)
    plain = PlateReader(PlatesConfig(country="generic"), None, padded_ocr).read_crop(crop)
    regional = PlateReader(PlatesConfig(country="us", region=region), None, padded_ocr).read_crop(crop)
    assert plain is not None and plain.normalized == without
    assert regional is not None and regional.normalized == with_region


# Photos where platedet (trained mostly on Brazilian plates) finds no plate, read through the text-line
# fallback: (region folder, file, country, the labelled plate).
MISSED_BY_PLATEDET = [
    ("us", "us2.jpg", "us", "EUS664"),
    ("us", "wts-lg-000197.jpg", "us", "2MFZ746"),
    ("eu", "test_043.jpg", "eu", "DK641AH"),
]


@pytest.fixture(scope="module")
def text_lines():
    from detector.plates.textdet import TextLineDetector

    det = TextLineDetector(side=960)
    yield det
    det.close()


@pytest.mark.parametrize(("folder", "name", "country", "plate"), MISSED_BY_PLATEDET)
def test_photo_fallback_reads_plates_platedet_misses(
    models_reader: PlateReader,
    padded_ocr: PlateOcr,
    text_lines: object,
    folder: str,
    name: str,
    country: str,
    plate: str,
) -> None:
    from detector.plates.detect import box_iou

    path = OPENALPR / "endtoend" / folder / name
    img = image(path)
    x, y, w, h = (float(v) for v in path.with_suffix(".txt").read_text().split()[1:5])
    reader = PlateReader(
        PlatesConfig.model_validate({"country": country, "detector_input_size": 640}),
        models_reader.detector,
        padded_ocr,
    )
    assert reader.detect_plates(img) == []  # the detector alone finds nothing here
    assert reader.read_image(img) == []  # and without a fallback nothing is read
    reads = reader.read_image(img, fallback=text_lines)  # type: ignore[arg-type]
    assert reads, "the fallback read nothing"
    top = reads[0]
    assert top.normalized == plate
    assert top.box is not None and box_iou(top.box.xyxy, (x, y, x + w, y + h)) >= 0.5


def test_photo_fallback_skips_words_and_numbers(
    models_reader: PlateReader, padded_ocr: PlateOcr, text_lines: object
) -> None:
    # a van with the fleet name, a web address, a phone number and a sticker code besides its plate:
    # only the plate comes first; words without digits are never offered as plates
    path = OPENALPR / "endtoend" / "us" / "wts-lg-000017.jpg"
    img = image(path)
    reader = PlateReader(
        PlatesConfig(country="us", detector_input_size=640), models_reader.detector, padded_ocr
    )
    reads = reader.read_text_lines(img, text_lines)  # type: ignore[arg-type]
    texts = [r.normalized for r in reads]
    assert texts and texts[0] == "7FR971"
    assert "CHARTER" not in texts and all(any(c.isdigit() for c in t) for t in texts)


def test_cli_reads_a_photo_through_the_fallback() -> None:
    import json

    from click.testing import CliRunner

    from detector.cli.plates import plates
    from detector.errors import ConfigError

    path = OPENALPR / "endtoend" / "us" / "us2.jpg"
    image(path)  # skips without the data
    args = ["read", str(path), "--country", "us", "--json"]
    result = CliRunner().invoke(plates, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.splitlines()[0])["normalized"] == "EUS664"
    off = CliRunner().invoke(plates, [*args, "--no-text-fallback"])
    assert off.exit_code == 0 and json.loads(off.output.splitlines()[0])["normalized"] is None
    bad = CliRunner().invoke(plates, [*args, "--region", "zz"])
    assert isinstance(bad.exception, ConfigError) and "unknown region 'zz'" in str(bad.exception)


def test_a_stray_mark_between_glyphs_is_dropped() -> None:
    # one view reads a faint extra '2' inside the plate (a bolt, a sticker); the pooled views drop it
    # although no view's own reading is the right one
    clean = spell(sure("H507VU"))
    noisy = spell([*sure("H50"), {"2": 0.7}, *sure("7VU")])
    got = choose(["H5027VU"], [(noisy,), (clean,), (clean,)], "generic")
    assert got is not None and got.text == "H507VU"
