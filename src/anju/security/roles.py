"""Roles and permissions, loaded from `data/roles.yaml`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from anju.yamlfiles import load_yaml


class UnknownRole(ValueError):
    def __init__(self, role: str) -> None:
        names = ", ".join(load_roles())
        super().__init__(f"role={role!r} is unknown: expected one of {names}")
        self.role = role


@dataclass(frozen=True)
class Role:
    name: str
    zh: str
    en: str
    permissions: frozenset[str]


@dataclass(frozen=True)
class Catalogue:
    actions: dict[str, tuple[str, str]]
    resources: dict[str, tuple[str, str, tuple[str, ...]]]
    roles: dict[str, Role]

    def permissions(self) -> list[str]:
        return [f"{r}:{a}" for r, (_, _, acts) in self.resources.items() for a in acts]


@cache
def catalogue() -> Catalogue:
    data = load_yaml(resources.files("anju.security").joinpath("data/roles.yaml").read_text("utf-8"))
    actions = {k: (v["zh"], v["en"]) for k, v in data["actions"].items()}
    res = {k: (v["zh"], v["en"], tuple(v["actions"])) for k, v in data["resources"].items()}
    known = {f"{r}:{a}" for r, (_, _, acts) in res.items() for a in acts}
    roles: dict[str, Role] = {}
    for name, v in data["roles"].items():
        perms = frozenset(v.get("permissions") or ())
        unknown = perms - known
        if unknown:
            raise ValueError(f"roles.yaml: role {name} grants unknown permissions {sorted(unknown)}")
        roles[name] = Role(name, v["zh"], v["en"], perms)
    for r, (_, _, acts) in res.items():
        if set(acts) - set(actions):
            raise ValueError(
                f"roles.yaml: resource {r} uses undeclared actions {sorted(set(acts) - set(actions))}"
            )
    return Catalogue(actions, res, roles)


def load_roles() -> dict[str, Role]:
    return catalogue().roles


def get_role(name: str) -> Role:
    try:
        return load_roles()[name]
    except KeyError:
        raise UnknownRole(name) from None


def is_permission(permission: str) -> bool:
    return permission in set(catalogue().permissions())
