"""Access rows of the briefs routes, in the format of ROUTES in tests/test_access.py
(endpoint → [(method, url, {role: expected status})]); that table extends itself with them.

Staff, admins and auditors read briefs; staff and admins issue them and mark good practices (the auditor only
reads); liaisons have no brief pages. The world's report is submitted and not marked."""

from __future__ import annotations

OK, LOGIN, FORBIDDEN, MISSING, BAD = 200, 302, 403, 404, 400
ROLES = ("anonymous", "liaison", "other_liaison", "staff", "admin", "auditor")
SIGNED_IN = ROLES[1:]
READERS = {"anonymous": LOGIN, "liaison": FORBIDDEN, "other_liaison": FORBIDDEN, "staff": OK, "admin": OK,
           "auditor": OK}
NO_SUCH = {**READERS, "staff": MISSING, "admin": MISSING, "auditor": MISSING}
ACTORS = {**READERS, "auditor": FORBIDDEN}

ROUTES: dict[str, list[tuple[str, str, dict[str, int]]]] = {
    "briefs.index": [("GET", "/briefs", READERS), ("GET", "/briefs?plan=999999", NO_SUCH)],
    # POST {}: no plan, kind or period → the form again with its messages (400)
    "briefs.issue": [("POST", "/briefs/issue", {**ACTORS, "staff": BAD, "admin": BAD})],
    "briefs.show": [("GET", "/briefs/999999", NO_SUCH)],
    "briefs.download": [("GET", "/briefs/999999.docx", NO_SUCH)],
    "briefs.mark": [("GET", "/briefs/practice/{report}", ACTORS),
                    ("POST", "/briefs/practice/{report}", {**ACTORS, "staff": BAD, "admin": BAD}),
                    ("GET", "/briefs/practice/999999", {**ACTORS, "staff": MISSING, "admin": MISSING})],
    # not marked: nothing to take away (400)
    "briefs.unmark": [("POST", "/briefs/practice/{report}/unmark", {**ACTORS, "staff": BAD, "admin": BAD})],
}
