"""Access rows of the rankings routes, in the format of ROUTES in tests/test_access.py
(endpoint → [(method, url, {role: expected status})]); that table extends itself with them.

Office staff, admins and auditors read the rankings; staff and admins publish (an empty POST:
no period chosen → 400 with the message beside the field); liaisons are refused."""

from __future__ import annotations

OK, LOGIN, FORBIDDEN, MISSING = 200, 302, 403, 404
ROLES = ("anonymous", "liaison", "other_liaison", "staff", "admin", "auditor")
SIGNED_IN = ROLES[1:]

OFFICE_READ = {"anonymous": LOGIN, "liaison": FORBIDDEN, "other_liaison": FORBIDDEN, "staff": OK, "admin": OK,
               "auditor": OK}
OFFICE_MISSING = {**OFFICE_READ, "staff": MISSING, "admin": MISSING, "auditor": MISSING}

ROUTES: dict[str, list[tuple[str, str, dict[str, int]]]] = {
    # one plan: the index goes straight to its ranking
    "rankings.index": [("GET", "/rankings", {**OFFICE_READ, "staff": 302, "admin": 302, "auditor": 302})],
    "rankings.plan": [("GET", "/plans/{plan}/ranking", OFFICE_READ),
                      ("GET", "/plans/nope/ranking", OFFICE_MISSING),
                      ("POST", "/plans/{plan}/ranking", {**OFFICE_READ, "staff": 400, "admin": 400,
                                                         "auditor": FORBIDDEN})],
    "rankings.unit": [("GET", "/plans/{plan}/ranking/units/{unit}", OFFICE_READ),
                      ("GET", "/plans/{plan}/ranking/units/999999", OFFICE_MISSING)],
    "rankings.export": [("GET", "/plans/{plan}/ranking.xlsx", OFFICE_READ),
                        ("GET", "/plans/{plan}/ranking.csv", OFFICE_READ),
                        ("GET", "/plans/{plan}/ranking.pdf", OFFICE_MISSING)],
    "rankings.publication": [("GET", "/rankings/999999", OFFICE_MISSING)],
    "rankings.publication_export": [("GET", "/rankings/999999.xlsx", OFFICE_MISSING)],
}
