"""Errors a user can fix: each names where, the value found and what is expected (CLI exit code 2)."""

from __future__ import annotations

import json
from typing import Any


class EvaluationError(Exception):
    """A mistake in what the user gave the evaluation engine; printed as one line, never a traceback."""

    def __init__(self, message: str, *, field: str = "", value: Any = None, expected: str = "") -> None:
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(message)

    @classmethod
    def bad_value(cls, where: str, field: str, value: Any, expected: str) -> EvaluationError:
        shown = repr(value) if not isinstance(value, str) else f"'{value}'"
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return cls(
            f"{where}: {field} = {shown}: expected {expected}", field=field, value=value, expected=expected
        )


class SystemDataError(Exception):
    """A shipped indicator-system data file is inconsistent (a bug in Anju, not in the user's input)."""


class NoFactsError(EvaluationError):
    """A community was named but nothing can say anything about it."""


def parse_error_text(exc: Exception) -> str:
    """Where a YAML or JSON text is malformed, in one line: 'line 3, column 5: …'."""
    if isinstance(exc, json.JSONDecodeError):
        return f"line {exc.lineno}, column {exc.colno}: {exc.msg}"
    mark = getattr(exc, "problem_mark", None)
    lines = str(exc).strip().splitlines()
    problem = getattr(exc, "problem", None) or (lines[0] if lines else type(exc).__name__)
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return str(problem)
