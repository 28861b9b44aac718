"""Walking an area's access rows (the format of ROUTES in tests/test_access.py) with that area's own
fixtures and users, so an area can check its rows against its richer data too."""

from __future__ import annotations

from collections.abc import Callable, Mapping


def access_failures(app, login: Callable, routes: Mapping[str, list[tuple[str, str, dict[str, int]]]],
                    users: Mapping[str, str]) -> list[str]:
    """Each (route, role) whose status differs from the expected one; `users` maps a role to a user
    name ("other_liaison" rows are skipped: they need the main table's second unit)."""
    failures = []
    for endpoint, cases in routes.items():
        for method, url, expected in cases:
            for role, want in expected.items():
                if role == "other_liaison":
                    continue
                client = app.test_client()
                if role != "anonymous":
                    login(client, users[role])
                got = client.open(url, method=method, data={}).status_code
                if got != want:
                    failures.append(f"{role} {method} {url} ({endpoint}): {got}, expected {want}")
    return failures
