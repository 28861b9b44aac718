"""Access rows of the exports routes, in the format of ROUTES in tests/test_access.py
(endpoint → [(method, url, {role: expected status})]); that table extends itself with them.

The exports hold every unit's data: staff, admins and auditors download, liaisons get 403
(also for another plan's or an unknown plan's URL: access is decided before the plan is looked up)."""

from __future__ import annotations

OK, LOGIN, FORBIDDEN, MISSING = 200, 302, 403, 404
ROLES = ("anonymous", "liaison", "other_liaison", "staff", "admin", "auditor")
SIGNED_IN = ROLES[1:]

OFFICE_READ = {"anonymous": LOGIN, "liaison": FORBIDDEN, "other_liaison": FORBIDDEN, "staff": OK, "admin": OK,
               "auditor": OK}
NO_PLAN = {**OFFICE_READ, "staff": MISSING, "admin": MISSING, "auditor": MISSING}

ROUTES: dict[str, list[tuple[str, str, dict[str, int]]]] = {
    "exports.matrix": [("GET", "/exports/plans/{plan}/matrix.xlsx", OFFICE_READ),
                       ("GET", "/exports/plans/{plan}/matrix.csv?period={period}", OFFICE_READ),
                       ("GET", "/exports/plans/nope/matrix.xlsx", NO_PLAN)],
    "exports.figures": [("GET", "/exports/plans/{plan}/figures.xlsx?period={period}", OFFICE_READ),
                        ("GET", "/exports/plans/{plan}/figures.csv", OFFICE_READ),
                        ("GET", "/exports/plans/{plan}/figures.csv?period=999999", NO_PLAN)],
    "exports.overdue": [("GET", "/exports/overdue.xlsx", OFFICE_READ),
                        ("GET", "/exports/overdue.csv?period=all", OFFICE_READ)],
}
