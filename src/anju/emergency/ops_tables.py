"""The tables of emergency operations: risk zones, resources, duty, dispatch, incidents, warnings."""

from __future__ import annotations

from sqlalchemy import MetaData


def emergency_ops_tables(metadata: MetaData) -> None:
    """Add these tables to `metadata` (db/schema.py builds the platform's metadata from these)."""
