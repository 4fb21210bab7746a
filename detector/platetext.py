"""Plate texts as lookup keys, for every layer: the plate reader, the store, the hotlist matcher and
the sample's ground truth all key a plate the same way.

`normalize_plate` gives the key (upper case, A-Z0-9 only: ``51f 123.45`` -> ``51F12345``);
`o_zero_spellings` the spellings a lookup must try where the letter O and the digit 0 look alike.
Pure functions of the text, no country rules (those are in `detector.plates`).
"""

from __future__ import annotations

import itertools
import re
import unicodedata

_NON_ALNUM = re.compile(r"[^A-Z0-9]")

#: At most this many O/0 positions are spelled both ways by `o_zero_spellings` (2**8 spellings).
MAX_O_ZERO_POSITIONS = 8


def normalize_plate(text: str) -> str:
    """Lookup key of a plate text: upper case, only A-Z and 0-9 (``51f 123.45`` -> ``51F12345``).

    Vietnamese ``Đ`` becomes ``D``; other accented letters lose their accents.
    """
    text = text.upper().replace("Đ", "D")
    text = unicodedata.normalize("NFKD", text)
    return _NON_ALNUM.sub("", text)


def o_zero_spellings(key: str) -> list[str]:
    """Every spelling of a plate key with the letter O and the digit 0 exchanged, the key first.

    Many US states print one glyph for both, and some print no letter O at all, so one plate may be
    stored as ``C0UGAR`` and looked up as ``COUGAR``; Vietnamese plates carry no letter O. Beyond
    `MAX_O_ZERO_POSITIONS` such characters, only the key and its all-digit spelling are given."""
    where = [i for i, c in enumerate(key) if c in "O0"]
    if len(where) > MAX_O_ZERO_POSITIONS:
        return list(dict.fromkeys((key, key.replace("O", "0"))))
    out = [key]
    for combo in itertools.product("0O", repeat=len(where)):
        chars = list(key)
        for i, c in zip(where, combo, strict=True):
            chars[i] = c
        out.append("".join(chars))
    return list(dict.fromkeys(out))
