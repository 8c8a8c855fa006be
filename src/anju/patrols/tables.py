"""The patrols module's tables."""

from __future__ import annotations

from sqlalchemy import MetaData


def patrol_tables(metadata: MetaData) -> None:
    """Add this module's tables to `metadata` (db/schema.py builds the platform's metadata from these)."""
