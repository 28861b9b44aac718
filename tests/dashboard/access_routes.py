"""Access rows of the dashboard routes, in the format of ROUTES in tests/test_access.py
(endpoint → [(method, url, {role: expected status})]); that table extends itself with them.

The dashboard is for those who see every unit (staff, admins, auditors); liaisons get 403."""

from __future__ import annotations

OK, LOGIN, FORBIDDEN, MISSING = 200, 302, 403, 404
ROLES = ("anonymous", "liaison", "other_liaison", "staff", "admin", "auditor")
SIGNED_IN = ROLES[1:]
OFFICE_READ = {"anonymous": LOGIN, "liaison": FORBIDDEN, "other_liaison": FORBIDDEN, "staff": OK, "admin": OK,
               "auditor": OK}
NO_PLAN = {**OFFICE_READ, "staff": MISSING, "admin": MISSING, "auditor": MISSING}
BAD_REQUEST = {**OFFICE_READ, "staff": 400, "admin": 400, "auditor": 400}

ROUTES: dict[str, list[tuple[str, str, dict[str, int]]]] = {
    # one plan in the test world: the index redirects to its dashboard
    "dashboard.index": [("GET", "/dashboard", {**OFFICE_READ, "staff": 302, "admin": 302, "auditor": 302})],
    "dashboard.plan": [("GET", "/plans/{plan}/dashboard", OFFICE_READ),
                       ("GET", "/plans/{plan}/dashboard?unit=999999&light=purple&period=x", OFFICE_READ),
                       ("GET", "/plans/nope/dashboard", NO_PLAN)],
    "dashboard.data": [("GET", "/plans/{plan}/dashboard.json", OFFICE_READ),
                       ("GET", "/plans/nope/dashboard.json", NO_PLAN)],
    "dashboard.items": [("GET", "/plans/{plan}/dashboard/items?what=overdue", OFFICE_READ),
                        ("GET", "/plans/{plan}/dashboard/items?what=nope", BAD_REQUEST),
                        ("GET", "/plans/nope/dashboard/items", NO_PLAN)],
}
