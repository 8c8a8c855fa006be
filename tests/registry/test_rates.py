"""Doorplate coverage and verification rates against counts made by hand on the fixture (rates_fixture.py),
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction

from anju.registry.rates import Rate, estate_rates, estates_under, region_rates
from anju.services import Services
from tests.registry.rates_fixture import build


def _ids(entries: tuple[object, ...]) -> set[str]:
    return {getattr(e, "id") for e in entries}  # noqa: B009


def test_estate_rates_match_the_hand_count(services: Services) -> None:
    build(services)
    with services.db.engine.connect() as conn:
        r = estate_rates(conn, services.registry, "E1")

    # Doors of E1: gates G1 G2, buildings B1 B2, units B1-U1 B1-U2 B2-U1, houses H1..H6 = 13.
    # Active plates: G1, B1, B2, B1-U1, B1-U2, H1, H2, H3, H4 = 9 (H5's plate is revoked).
    assert r.doors["gate"].fraction == Fraction(1, 2)
    assert r.doors["building"].fraction == Fraction(2, 2)
    assert r.doors["unit"].fraction == Fraction(2, 3)
    assert r.doors["house"].fraction == Fraction(4, 6)
    assert (r.doorplates.numerator, r.doorplates.denominator) == (9, 13)
    assert _ids(r.doors_without_plate) == {"E1-G2", "E1-B2-U1", "E1-H5", "E1-H6"}

    # People with an active residence in E1: P1 P2 P3 P4 P5 (P6 ended, P7 pending) = 5; verified P1 P3 P4.
    assert (r.population.numerator, r.population.denominator) == (3, 5)
    assert _ids(r.unverified_people) == {"P2", "P5"}
    # Houses: 6, verified H1 H2 H5.
    assert r.houses.fraction == Fraction(3, 6)
    assert _ids(r.unverified_houses) == {"E1-H3", "E1-H4", "E1-H6"}
    # Org units of E1: O1 O2 O3, verified O1 O3 (O4 is registered to the community, not to E1).
    assert r.org_units.fraction == Fraction(2, 3)
    assert _ids(r.unverified_org_units) == {"O2"}
    # 一标三实 together: (3 + 3 + 2) / (5 + 6 + 3).
    assert r.verification.fraction == Fraction(8, 14)

    d = r.to_dict(limit=2)
    assert d["doorplates"]["numerator"] == 9 and d["doorplates"]["percent"] == round(100 * 9 / 13, 2)
    assert d["doorplates"]["without_plate"]["total"] == 4
    assert len(d["doorplates"]["without_plate"]["items"]) == 2


def test_community_rates_add_up_its_estates(services: Services) -> None:
    build(services)
    with services.db.engine.connect() as conn:
        assert estates_under(conn, services.registry, services.regions, "C1") == ("E1", "E2")
        r = region_rates(conn, services.registry, services.regions, "C1")

    # Doors: E1 9/13 plus E2 (gate plated, building not, house plated) 2/3.
    assert r.doorplates.fraction == Fraction(9 + 2, 13 + 3)
    # People: E1's five plus P8; P1 lives in both estates and counts once. Verified P1 P3 P4 P8.
    assert r.population.fraction == Fraction(4, 6)
    # Houses: E1 3/6 plus E2-H1 verified.
    assert r.houses.fraction == Fraction(4, 7)
    # Org units: O1..O3 and the community-level O4 (unverified); O5 belongs to C2.
    assert r.org_units.fraction == Fraction(2, 4)
    assert _ids(r.unverified_org_units) == {"O2", "O4"}
    assert r.estates == ("E1", "E2")


def test_rates_as_of_a_past_date(services: Services) -> None:
    build(services)
    with services.db.engine.connect() as conn:
        r = estate_rates(conn, services.registry, "E1", as_of=datetime(2026, 3, 31))
        before = estate_rates(conn, services.registry, "E1", as_of=datetime(2025, 12, 31))
    # On 31 March H3 and H4 had no plate yet (issued 1 June) and H5's was not yet revoked (1 May).
    assert r.doors["house"].fraction == Fraction(3, 6)
    assert r.doorplates.fraction == Fraction(8, 13)
    # Before anything was registered there is nothing to count: no rate rather than 0 % or 100 %.
    assert before.doorplates == Rate(0, 0) and before.doorplates.fraction is None
    assert before.population.value is None


def test_an_empty_estate_has_no_rates(sqlite_services: Services) -> None:
    build(sqlite_services)
    with sqlite_services.db.engine.connect() as conn:
        r = estate_rates(conn, sqlite_services.registry, "NOPE")
    assert r.doorplates.fraction is None and r.to_dict()["doorplates"]["percent"] is None
