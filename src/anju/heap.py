"""The garbage collector in long-running processes (`anju serve`, `demo`, `gateway`, `ingest`)."""

from __future__ import annotations

import gc


def settle_after_startup() -> None:
    """Put what start-up built (modules, the standard, rules, SQLAlchemy's tables and compiled statements:
    about 300,000 objects) out of the cyclic collector's reach. A full collection walked them all, about
    180 ms with every thread of the process stopped, which is what the slowest alarms waited; they live as
    long as the process anyway. Called once, just before a command starts its real work."""
    gc.collect()
    gc.freeze()
