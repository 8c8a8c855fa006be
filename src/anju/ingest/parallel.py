"""NDJSON imports on several cores: worker processes decode, validate and seal batches, this process
commits.

Validation and sealing (about ten SM4-GCM encryptions per record, each a new OpenSSL context) are
CPU-bound Python; storing is mostly the database engine's own work. Running them side by side makes a file
import as fast as the slower of the two instead of their sum. Batches are committed in file order; no more
than one per worker plus the one being committed are in flight, so memory stays flat.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from anju.config import Settings
from anju.ingest.result import BatchResult
from anju.standard.dictionaries import Dictionary

if TYPE_CHECKING:
    from anju.ingest.pipeline import Pipeline, Validators
    from anju.security.personal import RecordProtector

_worker: Validators | None = None
_protector: RecordProtector | None = None


def _init_worker(settings: Settings, dictionaries: dict[str, Dictionary], keys: Path) -> None:
    global _worker, _protector
    from anju.ingest.pipeline import Validators
    from anju.security.keys import Keyring
    from anju.security.personal import RecordProtector

    _worker = Validators(settings, dictionaries)
    # The parent's own key file (never created here): a rotation while the import runs is picked up by
    # each seal, as in the parent.
    _protector = RecordProtector(Keyring.load(keys))


def _classify(type_slug: str, batch: tuple[int, list[bytes]], now: datetime) -> tuple[Any, Any]:
    """Decode and validate one batch of raw NDJSON lines in a worker: the parent only reads bytes."""
    from anju.ingest.decode import iter_ndjson
    from anju.standard.spec import record_type

    assert _worker is not None and _protector is not None
    first, lines = batch
    rtype = record_type(type_slug)
    good, bad = _worker.classify(rtype, list(iter_ndjson(lines, first_index=first)), now)
    for cand in good:
        cand.presealed = _protector.sealed_copy(rtype, cand.outcome.row, cand.outcome.record_id)
    return good, bad


@dataclass
class _Pending:
    future: Future[tuple[Any, Any]]
    now: datetime


def ndjson_batches(lines: Iterable[bytes], size: int) -> Iterator[tuple[int, list[bytes]]]:
    """(first line number, up to `size` non-blank lines); line numbers count blank lines too."""
    batch: list[bytes] = []
    first = 1
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if not batch:
            first = n
        batch.append(line)
        if len(batch) >= size:
            yield first, batch
            batch = []
    if batch:
        yield first, batch


def ingest_parallel(
    pipeline: Pipeline,
    type_slug: str,
    batches: Iterable[tuple[int, list[bytes]]],
    *,
    source: str,
    actor: str = "system",
    estate: str | None,
    on_batch: Callable[[BatchResult], None] | None,
    workers: int,
) -> BatchResult:
    """Ingest raw NDJSON line batches (from `ndjson_batches`), committed in order."""
    total = BatchResult(type_slug)
    pending: deque[_Pending] = deque()

    def commit_oldest() -> None:
        job = pending.popleft()
        good, bad = job.future.result()
        result = pipeline.commit_classified(
            type_slug,
            good,
            bad,
            job.now,
            source=source,
            estate=estate,
            received=len(good) + len(bad),
            actor=actor,
        )
        total.merge(result)
        if on_batch is not None:
            on_batch(result)

    # Loaded here, not in the workers: a broken override file is reported as such, and every worker
    # validates against exactly the dictionaries this process holds.
    dictionaries = pipeline.dictionaries
    keys = pipeline.protector.keyring.path
    with ProcessPoolExecutor(
        max_workers=workers, initializer=_init_worker, initargs=(pipeline.settings, dictionaries, keys)
    ) as pool:
        for batch in batches:
            now = pipeline.clock()
            pending.append(_Pending(pool.submit(_classify, type_slug, batch, now), now))
            while len(pending) > workers:  # one batch per worker, plus the one being committed
                commit_oldest()
        while pending:
            commit_oldest()
    return total
