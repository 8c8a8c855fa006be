"""Facts and their evidence, and the registry of evidence providers that modules plug into the engine.

Every fact a score uses carries an `Evidence`: its value and where it came from — stored records (with
their ids), an attestation (who said so, when, with which files), or a line of an input file. Providers
are registered by the modules that own the data (alarms, registry, emergency, …); the engine asks each of
them for the facts it provides and merges them with the input file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

FactValue = bool | int | float | str | tuple[str, ...]


class SourceKind(StrEnum):
    records = "records"
    attestation = "attestation"
    input_file = "input_file"


@dataclass(frozen=True)
class Evidence:
    """One fact's value and its provenance, down to record ids or the attesting person."""

    value: FactValue
    source: SourceKind
    description: str
    references: tuple[str, ...] = ()
    provider: str = ""
    as_of: date | None = None
    # values of the same fact from sources merged earlier, kept so nothing is silently replaced
    superseded: tuple[Evidence, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "value": list(self.value) if isinstance(self.value, tuple) else self.value,
            "source": self.source.value,
            "description": self.description,
            "references": list(self.references),
        }
        if self.provider:
            out["provider"] = self.provider
        if self.as_of is not None:
            out["as_of"] = self.as_of.isoformat()
        if self.superseded:
            out["superseded"] = [e.to_dict() for e in self.superseded]
        return out


def twelve_months(as_of: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The twelve months that end with the local day `as_of`, as naive-UTC bounds [start, end): the
    period the indicators' "in the year" criteria count over (29 February looks back 365 days)."""
    end_day = as_of + timedelta(days=1)
    start_day = (
        end_day.replace(year=end_day.year - 1)
        if (end_day.month, end_day.day) != (2, 29)
        else end_day - timedelta(days=365)
    )
    end = datetime.combine(end_day, time(0), tz).astimezone(UTC).replace(tzinfo=None)
    start = datetime.combine(start_day, time(0), tz).astimezone(UTC).replace(tzinfo=None)
    return start, end


@runtime_checkable
class EvidenceProvider(Protocol):
    """Computes facts about one community from the platform's data.

    `keys` are the fact keys it can provide (e.g. "SE32.1", "WH.doors_qr", "SD.households");
    `facts` returns those it can establish for the community as of the date, each with its evidence.
    A key it cannot establish is simply left out (the score then shows the fact as missing).
    """

    @property
    def name(self) -> str: ...

    @property
    def keys(self) -> frozenset[str]: ...

    def facts(self, community_code: str, as_of: date) -> Mapping[str, Evidence]: ...


class ProviderRegistry:
    """The providers the engine consults, in registration order (a later one overrides an earlier one)."""

    def __init__(self, providers: Iterable[EvidenceProvider] = ()) -> None:
        self._providers: list[EvidenceProvider] = []
        for p in providers:
            self.register(p)

    def register(self, provider: EvidenceProvider) -> None:
        if not isinstance(provider, EvidenceProvider):
            raise TypeError(f"{provider!r} is not an EvidenceProvider (name, keys, facts)")
        if any(p.name == provider.name for p in self._providers):
            raise ValueError(f"an evidence provider named {provider.name!r} is already registered")
        self._providers.append(provider)

    def unregister(self, name: str) -> None:
        self._providers = [p for p in self._providers if p.name != name]

    @property
    def providers(self) -> tuple[EvidenceProvider, ...]:
        return tuple(self._providers)

    def __bool__(self) -> bool:
        return bool(self._providers)

    def gather(self, community_code: str, as_of: date) -> dict[str, Evidence]:
        """Every fact the providers establish for one community, later providers overriding earlier."""
        merged: dict[str, Evidence] = {}
        for provider in self._providers:
            for key, ev in provider.facts(community_code, as_of).items():
                if key not in provider.keys:
                    # a provider answering for a key it did not declare is a bug in that provider
                    raise ValueError(f"evidence provider {provider.name!r} returned undeclared fact {key!r}")
                ev = ev if ev.provider else replace(ev, provider=provider.name)
                ev = ev if ev.as_of is not None else replace(ev, as_of=as_of)
                merged[key] = _supersede(merged.get(key), ev)
        return merged


def _supersede(old: Evidence | None, new: Evidence) -> Evidence:
    if old is None:
        return new
    return replace(new, superseded=(*new.superseded, old))


def merge_facts(base: Mapping[str, Evidence], override: Mapping[str, Evidence]) -> dict[str, Evidence]:
    """`override` wins key by key; what it replaces stays in its evidence as `superseded`."""
    merged = dict(base)
    for key, ev in override.items():
        merged[key] = _supersede(merged.get(key), ev)
    return merged


_default = ProviderRegistry()


def default_registry() -> ProviderRegistry:
    """The process-wide registry: modules register their providers here when they are imported."""
    return _default
