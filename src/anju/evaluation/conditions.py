"""Requirements as conditions on facts (Wuhan items, Shandong indicators), their evaluation and their gaps.

A condition is a tree: leaves compare one fact (or a ratio of two) with a number, `all` and `any` combine.
Evaluating it against a community's facts gives a `ConditionResult` tree that says, for every leaf, the
value used, its evidence and whether it holds. A leaf whose fact is missing does not hold: a requirement
without evidence is not met. `gaps` gives the fewest leaves that must change for the whole to hold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from anju.evaluation.errors import SystemDataError
from anju.evaluation.evidence import Evidence

Op = Literal["at_least", "at_most", "above", "below"]
OPS: tuple[Op, ...] = ("at_least", "at_most", "above", "below")
OP_ZH = {"at_least": "≥", "at_most": "≤", "above": ">", "below": "<"}


def _compare(value: float, op: Op, bound: float) -> bool:
    # rates are computed in floating point: 4/5*100 must count as reaching 80
    eps = 1e-9 * max(1.0, abs(bound))
    if op == "at_least":
        return value >= bound - eps
    if op == "at_most":
        return value <= bound + eps
    if op == "above":
        return value > bound + eps
    return value < bound - eps


@dataclass(frozen=True)
class Condition:
    """Base of the condition tree."""

    zh: str

    def fact_keys(self) -> tuple[str, ...]:
        raise NotImplementedError

    def leaves(self) -> tuple[Condition, ...]:
        parts: tuple[Condition, ...] = getattr(self, "parts", ())
        return tuple(leaf for p in parts for leaf in p.leaves()) if parts else (self,)

    def evaluate(self, facts: Mapping[str, Evidence]) -> ConditionResult:
        raise NotImplementedError


@dataclass(frozen=True)
class FlagLeaf(Condition):
    fact: str
    expected: bool = True

    def fact_keys(self) -> tuple[str, ...]:
        return (self.fact,)

    def evaluate(self, facts: Mapping[str, Evidence]) -> ConditionResult:
        ev = facts.get(self.fact)
        if ev is None:
            return ConditionResult(self, False, None, (), (self.fact,), "缺少事实")
        met = ev.value is self.expected
        shown = "是" if ev.value is True else "否"
        return ConditionResult(self, met, ev.value, ((self.fact, ev),), (), shown)


@dataclass(frozen=True)
class CompareLeaf(Condition):
    fact: str
    op: Op
    bound: float

    def fact_keys(self) -> tuple[str, ...]:
        return (self.fact,)

    def evaluate(self, facts: Mapping[str, Evidence]) -> ConditionResult:
        ev = facts.get(self.fact)
        if ev is None:
            return ConditionResult(self, False, None, (), (self.fact,), "缺少事实")
        value = float(ev.value)  # type: ignore[arg-type]  # inputs checked numeric by fact kind
        met = _compare(value, self.op, self.bound)
        return ConditionResult(
            self,
            met,
            ev.value,
            ((self.fact, ev),),
            (),
            f"{fmt_num(value)}（要求 {OP_ZH[self.op]} {fmt_num(self.bound)}）",
        )


@dataclass(frozen=True)
class FactCompareLeaf(Condition):
    """One fact compared with another: this year's cases below last year's."""

    fact: str
    op: Op
    other: str

    def fact_keys(self) -> tuple[str, ...]:
        return (self.fact, self.other)

    def evaluate(self, facts: Mapping[str, Evidence]) -> ConditionResult:
        a, b = facts.get(self.fact), facts.get(self.other)
        missing = tuple(k for k, e in ((self.fact, a), (self.other, b)) if e is None)
        if a is None or b is None:
            return ConditionResult(self, False, None, (), missing, "缺少事实")
        va, vb = float(a.value), float(b.value)  # type: ignore[arg-type]
        met = _compare(va, self.op, vb)
        used = ((self.fact, a), (self.other, b))
        return ConditionResult(
            self, met, va, used, (), f"{fmt_num(va)}（要求 {OP_ZH[self.op]} {fmt_num(vb)}）"
        )


@dataclass(frozen=True)
class RatioLeaf(Condition):
    """NUM / DEN x 100 compared with a percentage."""

    numerator: str
    denominator: str
    op: Op
    bound: float
    empty_passes: bool = False

    def fact_keys(self) -> tuple[str, ...]:
        return (self.numerator, self.denominator)

    def evaluate(self, facts: Mapping[str, Evidence]) -> ConditionResult:
        num, den = facts.get(self.numerator), facts.get(self.denominator)
        missing = tuple(k for k, e in ((self.numerator, num), (self.denominator, den)) if e is None)
        if den is not None and float(den.value) == 0 and self.empty_passes:  # type: ignore[arg-type]
            # "every X has Y" holds of an empty set of X: nothing to equip
            return ConditionResult(self, True, None, ((self.denominator, den),), (), "无此对象（0），不适用")
        if num is None or den is None:
            return ConditionResult(self, False, None, (), missing, "缺少事实")
        n, d = float(num.value), float(den.value)  # type: ignore[arg-type]
        used = ((self.numerator, num), (self.denominator, den))
        if d == 0:
            return ConditionResult(self, False, None, used, (), f"{fmt_num(n)}/0：分母为 0，无法计算")
        pct = n / d * 100
        met = _compare(pct, self.op, self.bound)
        shown = f"{fmt_num(n)}/{fmt_num(d)} = {fmt_num(round(pct, 2))}%（要求 {OP_ZH[self.op]} {fmt_num(self.bound)}%）"
        return ConditionResult(self, met, pct, used, (), shown)

    def needed_numerator(self, denominator: float) -> float | None:
        """The smallest (at_least/above) or largest (at_most/below) numerator that meets the bound."""
        target = self.bound * denominator / 100
        if self.op == "at_least":
            return math.ceil(target - 1e-9)
        if self.op == "above":
            return math.floor(target + 1e-9) + 1
        if self.op == "at_most":
            return math.floor(target + 1e-9)
        return math.ceil(target - 1e-9) - 1


@dataclass(frozen=True)
class AllOf(Condition):
    parts: tuple[Condition, ...]

    def fact_keys(self) -> tuple[str, ...]:
        return tuple(k for p in self.parts for k in p.fact_keys())

    def evaluate(self, facts: Mapping[str, Evidence]) -> ConditionResult:
        children = tuple(p.evaluate(facts) for p in self.parts)
        return ConditionResult(self, all(c.met for c in children), None, (), (), "", children)


@dataclass(frozen=True)
class AnyOf(Condition):
    parts: tuple[Condition, ...]

    def fact_keys(self) -> tuple[str, ...]:
        return tuple(k for p in self.parts for k in p.fact_keys())

    def evaluate(self, facts: Mapping[str, Evidence]) -> ConditionResult:
        children = tuple(p.evaluate(facts) for p in self.parts)
        return ConditionResult(self, any(c.met for c in children), None, (), (), "", children)


@dataclass(frozen=True)
class ConditionResult:
    condition: Condition
    met: bool
    value: Any
    used: tuple[tuple[str, Evidence], ...]
    missing: tuple[str, ...]
    shown: str
    children: tuple[ConditionResult, ...] = ()

    def leaves(self) -> list[ConditionResult]:
        if not self.children:
            return [self]
        return [leaf for c in self.children for leaf in c.leaves()]

    def evidence(self) -> dict[str, Evidence]:
        """Every fact this result looked at, with its evidence."""
        return {k: e for leaf in self.leaves() for k, e in leaf.used}

    def missing_facts(self) -> list[str]:
        seen: dict[str, None] = {}
        for leaf in self.leaves():
            for k in leaf.missing:
                seen[k] = None
        return list(seen)

    def gaps(self, context: frozenset[str] = frozenset()) -> list[ConditionResult]:
        """The fewest unmet leaves whose change makes the whole condition hold.

        `context` facts describe what a community is (a closed estate, its share of elderly residents),
        not something it can change: an alternative that fails on a known context fact is no option.
        """
        if self.met:
            return []
        if not self.children:
            return [self]
        if isinstance(self.condition, AnyOf):
            options = [c.gaps(context) for c in self.children if not c._blocked(context)]
            options = options or [c.gaps(context) for c in self.children]
            return min(options, key=len)
        return [g for c in self.children for g in c.gaps(context)]

    def _blocked(self, context: frozenset[str]) -> bool:
        return any(
            not leaf.met and not leaf.missing and set(leaf.condition.fact_keys()) <= context
            for leaf in self.gaps()
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"requirement": self.condition.zh, "met": self.met}
        if self.children:
            out["all" if isinstance(self.condition, AllOf) else "any"] = [c.to_dict() for c in self.children]
            return out
        out["facts"] = list(self.condition.fact_keys())
        out["value"] = self.value
        out["shown"] = self.shown
        if self.missing:
            out["missing"] = list(self.missing)
        out["evidence"] = {k: e.to_dict() for k, e in self.used}
        return out


def fmt_num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def parse_condition(raw: Any, where: str, fact_keys: frozenset[str]) -> Condition:
    """Builds a condition from its data-file form (see the head of shandong.yaml)."""
    if not isinstance(raw, dict):
        raise SystemDataError(f"{where}: a condition must be a mapping, got {raw!r}")
    zh = str(raw.get("zh", ""))
    if "all" in raw or "any" in raw:
        kind = "all" if "all" in raw else "any"
        parts = raw[kind]
        if not isinstance(parts, list) or not parts:
            raise SystemDataError(f"{where}: '{kind}' needs a non-empty list")
        built = tuple(parse_condition(p, f"{where}.{kind}[{i}]", fact_keys) for i, p in enumerate(parts))
        return AllOf(zh, built) if kind == "all" else AnyOf(zh, built)

    def known(key: Any) -> str:
        if key not in fact_keys:
            raise SystemDataError(f"{where}: unknown fact {key!r}")
        return str(key)

    ops = [op for op in OPS if op in raw]
    if len(ops) > 1:
        raise SystemDataError(f"{where}: more than one comparison {ops}")
    if "ratio" in raw:
        pair = raw["ratio"]
        if not (isinstance(pair, list) and len(pair) == 2) or not ops:
            raise SystemDataError(f"{where}: ratio needs [NUM, DEN] and a comparison")
        empty = raw.get("empty", "fail")
        if empty not in ("pass", "fail"):
            raise SystemDataError(f"{where}: empty must be pass or fail")
        return RatioLeaf(zh, known(pair[0]), known(pair[1]), ops[0], float(raw[ops[0]]), empty == "pass")
    if "fact" not in raw:
        raise SystemDataError(f"{where}: a leaf needs 'fact' or 'ratio'")
    fact = known(raw["fact"])
    if "less_than_fact" in raw:
        return FactCompareLeaf(zh, fact, "below", known(raw["less_than_fact"]))
    if ops:
        return CompareLeaf(zh, fact, ops[0], float(raw[ops[0]]))
    expected = raw.get("equals", True)
    if not isinstance(expected, bool):
        raise SystemDataError(f"{where}: equals must be true or false")
    return FlagLeaf(zh, fact, expected)
