"""Access rows of the briefs routes, in the format of ROUTES in tests/test_access.py
(endpoint → [(method, url, {role: expected status})]); that table extends itself with them."""

from __future__ import annotations

OK, LOGIN, FORBIDDEN, MISSING = 200, 302, 403, 404
ROLES = ("anonymous", "liaison", "other_liaison", "staff", "admin", "auditor")
SIGNED_IN = ROLES[1:]

ROUTES: dict[str, list[tuple[str, str, dict[str, int]]]] = {}
