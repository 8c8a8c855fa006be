"""Helpers for the evaluation tests: communities built from literal facts, the seed-004 notice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from anju.evaluation.evidence import Evidence, SourceKind
from anju.evaluation.inputs import CommunityFacts, check_value

# tests/evaluation/conftest.py -> repository root -> ../shared/seeds (the project's source documents)
SEEDS = (Path(__file__).parents[2] / ".." / "shared" / "seeds").resolve()
SEED_004 = SEEDS / "004_c66f2f34937f82cd.txt"


def with_facts(code: str, facts: dict[str, Any], name: str = "") -> CommunityFacts:
    out = {
        k: Evidence(check_value(k, v, "test"), SourceKind.input_file, "test", (f"test#{k}",))
        for k, v in facts.items()
    }
    return CommunityFacts(code, name or code, out)


@pytest.fixture
def seed_004() -> Path:
    if not SEED_004.is_file():
        pytest.skip(
            f"seed 004 not found at {SEED_004} (the project's shared/seeds folder is not checked out here)"
        )
    return SEED_004


@pytest.fixture(autouse=True)
def no_platform_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--community` consults the platform's database when there is one: the evaluation tests run with
    none, whatever lies in the working directory."""
    monkeypatch.setenv("ANJU_DATA_DIR", str(tmp_path / "no-platform"))
    monkeypatch.setenv("ANJU_DATABASE_URL", f"sqlite:///{tmp_path / 'no-platform' / 'anju.db'}")
