"""Counting the SQL statements of a request, for the tests that pages run a fixed number of
statements whatever the data size: the same pages on a small data set and on one ten times larger."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import event

from app.extensions import db


def count_statements(app, client, url: str, *, data: dict | None = None, expect: int | None = None) -> int:
    """The statements one request runs: a GET, or a POST of `data`. Fails unless the status is
    `expect` (default 200 for a GET, 302 for a POST)."""
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        response = client.get(url) if data is None else client.post(url, data=data)
    finally:
        event.remove(engine, "before_cursor_execute", before)
    wanted = expect or (200 if data is None else 302)
    assert response.status_code == wanted, (url, response.status_code, response.text[-1000:])
    return len(statements)


def warm_counts(app, client, urls: Mapping[str, str]) -> dict[str, int]:
    """Each page's statements, counted on its second request (the first warms caches: user
    loading, lazy state)."""
    counts = {}
    for name, url in urls.items():
        count_statements(app, client, url)
        counts[name] = count_statements(app, client, url)
    return counts


def assert_flat(app, measure: Callable[[int], Mapping[str, Any]], *, pages: Any = None, limit: int) -> dict:
    """`measure(scale)` fills the database at that scale and counts its pages; the counts at scale
    1 and 10 must be equal (and each below `limit`). Returns the small counts."""
    from tests.conftest import _empty_database

    small = measure(1)
    _empty_database(app)
    large = measure(10)
    if pages is not None:
        assert set(small) == set(pages)
    assert small == large, {k: (small[k], large[k]) for k in small if small[k] != large[k]}
    assert all(0 < count < limit for count in small.values()), small
    return dict(small)
