"""No personal data in logs: the access log drops query strings, which can carry ID numbers."""

from __future__ import annotations

import logging

from anju.web.hardening import QueryStringFilter


def test_query_string_is_dropped_from_access_log_lines() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/v1/records/access_swipe?GMSFHM=11010519491231002X", "1.1", 200),
        None,
    )
    assert QueryStringFilter().filter(record)
    line = record.getMessage()
    assert "11010519491231002X" not in line
    assert "/api/v1/records/access_swipe?…" in line
    plain = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, "%s", ("x",), None)
    assert QueryStringFilter().filter(plain) and plain.getMessage() == "x"
