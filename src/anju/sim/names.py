"""Fictitious people: plausible Chinese names and citizen ID numbers that pass GB 11643.

ID numbers take their address code from the shipped GB/T 2260 table (sim.plan picks a current county),
their birth date and sex from the person, so that the standard's cross-field checks (ID ↔ sex, ID ↔ birth
date) hold. None of them is a real person's: the sequence numbers are random.
"""

from __future__ import annotations

import random
from datetime import date
from functools import cache

from anju.sim import catalog
from anju.standard.checks import id_check_char


@cache
def _surnames() -> tuple[tuple[str, ...], tuple[int, ...]]:
    table = catalog.load("names")["surnames"]
    return tuple(str(k) for k in table), tuple(int(v) for v in table.values())


def _given_chars(sex: str) -> str:
    given = catalog.load("names")["given"]
    return str(given["male" if sex == "1" else "female"]) + str(given["either"])


def person_name(rng: random.Random, sex: str, born: date) -> str:
    """A name for a person of this sex (GB/T 2261.1 code: 1 male, 2 female); older people more often
    have one-character given names."""
    names, weights = _surnames()
    surname = rng.choices(names, weights)[0]
    chars = _given_chars(sex)
    single = rng.random() < (0.45 if born.year < 1965 else 0.15)
    return surname + "".join(rng.choice(chars) for _ in range(1 if single else 2))


def citizen_id(rng: random.Random, county: str, born: date, sex: str) -> str:
    """An 18-character ID number: county code, birth date, a sequence whose parity is the sex (odd for
    men), and the ISO 7064 MOD 11-2 check character."""
    seq = rng.randrange(0, 499) * 2 + (1 if sex == "1" else 0)
    first17 = f"{county}{born:%Y%m%d}{seq:03d}"
    return first17 + id_check_char(first17)
