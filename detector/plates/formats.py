"""Plate formats per country (and US state): letter/digit layouts used as a prior when choosing a reading.

A format is a string of character classes: ``L`` a letter, ``N`` a digit, ``A`` either. A reading that
fits a format of the camera's region is preferred over one that does not when the image evidence is
close (``5AOJ230`` over ``5A0J230`` in California, where the O and the 0 are the same glyph and the
third character is always a letter). The formats are a prior, never a filter: vanity plates, dealer,
government and older series fit none of them and are still read as seen.

The lists are the common passenger-car series, written down for this project from the states' and
countries' published plate designs; they are not exhaustive. A deployment names its region in the
config (``plates.country``, ``plates.region``); with ``country: us`` and no state, the union of all
US formats is a weaker prior. A US plate that prints its state's name (``US_STATE_NAMES``, found by
``state_named_in`` in the text above or below the number) is read with that state's formats, and in
the states that print no letter O (``US_NO_LETTER_O``) its round glyph is the digit 0.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

#: US passenger formats by state (lower-case USPS code). Spaces/dashes on the plate are not part of them.
US_STATE_FORMATS: dict[str, tuple[str, ...]] = {
    "ak": ("LLLNNN",),
    "al": ("NNLNNNN", "NLNNNNN", "NNLLNNN"),
    "ar": ("NNNLLL", "LLLNNN"),
    "az": ("LLLNNNN", "NNNLLL", "LLLNNN"),
    "ca": ("NLLLNNN", "NNNLLL", "LLLNNN", "NLNNNNN", "NNNNNLN"),
    "co": ("NNNLLL", "LLLNNN", "LLLNNNN", "LLLLNN"),
    "ct": ("NLLLLN", "NNNLLL", "LLNNNNN", "LNNNLL"),
    "dc": ("LLNNNN",),
    "de": ("NNNNNN", "NNNNN", "NNNN"),
    "fl": ("LLLLNN", "LNNNLL", "NNNLLL", "LLLNNN", "LNNLLL", "NNNNLL"),
    "ga": ("LLLNNNN", "NNNLLL", "LLLNNN"),
    "hi": ("LLLNNN",),
    "ia": ("LLLNNN", "NNNLLL"),
    "id": ("NLNNNNN", "NLLNNNN", "NLLLNNN", "LNNNNNN", "NLNNNN"),
    "il": ("LLNNNNN", "LNNNNNN", "LLLNNNN", "LNNNNN"),
    "in": ("NNNLLL", "NNNLL", "NNNL"),
    "ks": ("NNNLLL", "LLLNNN"),
    "ky": ("NNNLLL",),
    "la": ("LLLNNN",),
    "ma": ("NLLLNN", "NNNLLN", "NLLNNN", "NNNLLL", "NNNNLL"),
    "md": ("NLLNNNN", "LLLNNN", "NLLLNN", "NNNLLL"),
    "me": ("NNNNLL", "NNNLL", "NNLL"),
    "mi": ("LLLNNNN", "LLLNNN", "NLLLNN"),
    "mn": ("NNNLLL", "LLLNNN"),
    "mo": ("LLNLNL", "NNNLLL"),
    "ms": ("LLLNNN", "LLLNNNN"),
    "mt": ("NNNNNNL", "NNNNNL"),
    "nc": ("LLLNNNN", "LLLNNN"),
    "nd": ("LLLNNN", "NNNLLL"),
    "ne": ("LLLNNN", "NLLNNN", "NNLNNN", "NLNNNN", "NNLLNN"),
    "nh": ("NNNNNNN", "NNNNNN", "LLLNNN", "LLLNNNN"),
    "nj": ("LNNLLL", "LLLNNL", "LLNNNL", "LLLNNNN"),
    "nm": ("LLLNNN", "NNNLLL"),
    "nv": ("NNNLLL", "NLLNNN", "LLLNNN", "LLNNNN"),
    "ny": ("LLLNNNN", "LLLNNN"),
    "oh": ("LLLNNNN", "LLNNLL"),
    "ok": ("LLLNNN", "NNNLLL"),
    "or": ("NNNLLL", "LLLNNN"),
    "pa": ("LLLNNNN",),
    "ri": ("NNNNNN", "NNNNN", "LLNNN"),
    "sc": ("LLLNNN",),
    "sd": ("NLNNNN", "NNLNNN", "NNLLNN"),
    "tn": ("NNNLLL", "LLLNNN", "LNNNNL"),
    "tx": ("LLLNNNN", "LLNLNNN", "NNNLLL", "LLLNNN"),
    "ut": ("LNNNLL", "NNNLLL", "LLLNNN", "NNNLN"),
    "va": ("LLLNNNN", "LLLNNN", "LLNNNN"),
    "vt": ("LLLNNN", "NNNLNNN"),
    "wa": ("LLLNNNN", "NNNLLL"),
    "wi": ("LLLNNNN", "NNNLLL", "LLLNNN"),
    "wv": ("NLLNNN", "LLLNNN"),
    "wy": ("NNNNN", "NNNNNN", "NNNNNNN", "NNNNL", "NNNLL"),
}

#: US states whose plates never carry the letter O: an O-shaped glyph on them is the digit 0, on serial
#: and personalised plates alike (the states' character rules as US plate-entry guides for parking and
#: toll enforcement list them). The other states use O among letters and 0 among digits, which their
#: formats already weigh; a few (az, ky, me, nh) allow O on personalised plates only.
US_NO_LETTER_O: frozenset[str] = frozenset(
    {"al", "ct", "fl", "ga", "hi", "id", "ks", "mi", "mn", "mo", "mt", "ne", "nj", "nm", "nv", "tx", "ut"}
)

#: European formats by country (ISO 3166 alpha-2, lower case); only fixed-layout national series.
EU_COUNTRY_FORMATS: dict[str, tuple[str, ...]] = {
    "it": ("LLNNNLL",),
    "fr": ("LLNNNLL",),
    "es": ("NNNNLLL",),
    "pt": ("LLNNLL", "NNLLNN", "NNNNLL", "LLNNNN"),
    "nl": ("LLNNNL", "NLLLNN", "NNLLLN", "LNNNLL", "LLLNNL", "NLLNNN"),
    "pl": ("LLNNNNN", "LLLNNNN", "LLNNNLL", "LLLNNLL"),
    "hr": ("LLNNNLL", "LLNNNNLL", "LLNNNNL"),
    "ba": ("LNNLNNN",),
    "rs": ("LLNNNLL", "LLNNNNLL"),
    "cz": ("NLNNNNN", "NLLNNNN"),
    "sk": ("LLNNNLL",),
    "hu": ("LLLNNN", "LLLLNNN"),
    "ro": ("LLNNLLL", "LNNLLL", "LNNNLLL"),
    "bg": ("LLNNNNLL", "LNNNNLL"),
    "gr": ("LLLNNNN",),
    "at": ("LNNNLL", "LLNNNLL"),
    "gb": ("LLNNLLL",),
}

#: Brazil: the old grey series LLLNNNN and the Mercosur series LLLNLNN (fifth character a letter).
BR_FORMATS: tuple[str, ...] = ("LLLNNNN", "LLLNLNN")

_CLASS = {"L": "[A-Z]", "N": "[0-9]", "A": "[A-Z0-9]"}


@lru_cache(maxsize=128)
def formats_for(country: str, region: str | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(formats of the region, formats of the country) for a reader's settings.

    With a region (a US state, an EU country) the first holds its formats and the second the
    country-wide union; without one, the first is empty. Unknown regions raise ValueError.
    """
    if country == "us":
        union = tuple(sorted({f for fs in US_STATE_FORMATS.values() for f in fs}))
        table = US_STATE_FORMATS
    elif country == "eu":
        union = tuple(sorted({f for fs in EU_COUNTRY_FORMATS.values() for f in fs}))
        table = EU_COUNTRY_FORMATS
    elif country == "br":
        return BR_FORMATS, BR_FORMATS
    else:
        return (), ()
    if region is None:
        return (), union
    key = region.lower()
    if key not in table:
        known = ", ".join(sorted(table))
        raise ValueError(f"unknown region {region!r} for country {country!r} (known: {known})")
    return table[key], union


#: Names that US plates print above or below the number, by state (letters only, upper case).
US_STATE_NAMES: dict[str, tuple[str, ...]] = {
    "ak": ("ALASKA",), "al": ("ALABAMA",), "ar": ("ARKANSAS",), "az": ("ARIZONA",),
    "ca": ("CALIFORNIA",), "co": ("COLORADO",), "ct": ("CONNECTICUT",),
    "dc": ("WASHINGTONDC", "DISTRICTOFCOLUMBIA"), "de": ("DELAWARE",), "fl": ("FLORIDA",),
    "ga": ("GEORGIA",), "hi": ("HAWAII",), "ia": ("IOWA",), "id": ("IDAHO",), "il": ("ILLINOIS",),
    "in": ("INDIANA",), "ks": ("KANSAS",), "ky": ("KENTUCKY",), "la": ("LOUISIANA",),
    "ma": ("MASSACHUSETTS",), "md": ("MARYLAND",), "me": ("MAINE",), "mi": ("MICHIGAN",),
    "mn": ("MINNESOTA",), "mo": ("MISSOURI",), "ms": ("MISSISSIPPI",), "mt": ("MONTANA",),
    "nc": ("NORTHCAROLINA",), "nd": ("NORTHDAKOTA",), "ne": ("NEBRASKA",), "nh": ("NEWHAMPSHIRE",),
    "nj": ("NEWJERSEY",), "nm": ("NEWMEXICO",), "nv": ("NEVADA",), "ny": ("NEWYORK",), "oh": ("OHIO",),
    "ok": ("OKLAHOMA",), "or": ("OREGON",), "pa": ("PENNSYLVANIA",), "ri": ("RHODEISLAND",),
    "sc": ("SOUTHCAROLINA",), "sd": ("SOUTHDAKOTA",), "tn": ("TENNESSEE",), "tx": ("TEXAS",),
    "ut": ("UTAH",), "va": ("VIRGINIA",), "vt": ("VERMONT",), "wa": ("WASHINGTON",),
    "wi": ("WISCONSIN",), "wv": ("WESTVIRGINIA",), "wy": ("WYOMING",),
}  # fmt: skip


def is_state_name(text: str) -> bool:
    """True when `text` (spaces and punctuation aside) is a US state's name and nothing else: a view
    of the plate's caption (TEXAS over the number), not of the number."""
    key = "".join(c for c in text.upper() if c.isalnum())
    return any(key in names for names in US_STATE_NAMES.values())


def _misreads_allowed(name: str) -> int:
    """Letters of a state name that may be misread: none up to 5 letters, one up to 8, else two."""
    return 0 if len(name) <= 5 else 1 if len(name) <= 8 else 2


def _substring_distance(name: str, text: str, limit: int) -> int:
    """Fewest edits that turn `name` into some substring of `text` (limit + 1 once past `limit`)."""
    if limit == 0:
        return 0 if name in text else 1
    prev = [0] * (len(text) + 1)  # the name may start anywhere in the text
    for i, a in enumerate(name, 1):
        cur = [i]
        for j, b in enumerate(text, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a != b)))
        if min(cur) > limit:
            return limit + 1
        prev = cur
    return min(prev)


def state_named_in(texts: Iterable[str]) -> str | None:
    """The US state (USPS code) whose name the texts hold, e.g. ``'SCENIC IDAHO'`` -> ``'id'``.

    Only letters count (``myFlorida.com`` holds FLORIDA); a name may have `_misreads_allowed` misread
    letters. The longest name found wins, so WEST VIRGINIA is not VIRGINIA and WASHINGTON DC is not
    WASHINGTON. None when no name is found."""
    letters = ["".join(c for c in t.upper() if "A" <= c <= "Z") for t in texts]
    letters = [t for t in letters if len(t) >= 4]
    best: tuple[tuple[int, int], str] | None = None
    for code, names in US_STATE_NAMES.items():
        for name in names:
            limit = _misreads_allowed(name)
            for text in letters:
                if len(text) < len(name) - limit:
                    continue
                d = _substring_distance(name, text, limit)
                if d <= limit and (best is None or (len(name) - d, -d) > best[0]):
                    best = ((len(name) - d, -d), code)
    return best[1] if best else None


def letter_o_used(country: str, region: str | None = None) -> bool:
    """False where the configured region's plates never carry the letter O (`US_NO_LETTER_O`): the
    reader then writes every O-shaped glyph as the digit 0."""
    return not (country == "us" and region is not None and region.lower() in US_NO_LETTER_O)


@lru_cache(maxsize=256)
def _regex(fmt: str) -> re.Pattern[str]:
    bad = set(fmt) - set(_CLASS)
    if bad:
        raise ValueError(f"plate format {fmt!r}: unknown class {''.join(sorted(bad))!r} (use L, N, A)")
    return re.compile("".join(_CLASS[c] for c in fmt) + r"\Z")


def matches(text: str, formats: tuple[str, ...]) -> bool:
    """True when the plate key `text` fits one of `formats`."""
    return any(len(f) == len(text) and _regex(f).match(text) for f in formats)
