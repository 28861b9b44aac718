"""Access rows of the reminder routes, in the format of ROUTES in tests/test_access.py
(endpoint → [(method, url, {role: expected status})]). That table extends itself with them:

    for endpoint, cases in REMINDER_ROUTES.items():
        ROUTES.setdefault(endpoint, []).extend(cases)
"""

from __future__ import annotations

OK, LOGIN, FORBIDDEN, MISSING = 200, 302, 403, 404
ROLES = ("anonymous", "liaison", "other_liaison", "staff", "admin", "auditor")
SIGNED_IN = ROLES[1:]

REMINDER_ROUTES: dict[str, list[tuple[str, str, dict[str, int]]]] = {
    "reminders.inbox": [("GET", "/inbox", {"anonymous": LOGIN, **dict.fromkeys(SIGNED_IN, OK)})],
    # an entry of nobody's (or of another user): 404 for everyone
    "reminders.inbox_entry": [("GET", "/inbox/999999", {"anonymous": LOGIN, **dict.fromkeys(SIGNED_IN, MISSING)})],
    "reminders.inbox_read_all": [("POST", "/inbox/read-all", {"anonymous": LOGIN, **dict.fromkeys(SIGNED_IN, 302)})],
    # the admin acts on the outbox; the auditor reads it
    "reminders.outbox": [("GET", "/admin/outbox", {"anonymous": LOGIN, "liaison": FORBIDDEN,
                                                   "other_liaison": FORBIDDEN, "staff": FORBIDDEN, "admin": OK,
                                                   "auditor": OK})],
    "reminders.resend": [("POST", "/admin/outbox/999999/resend", {"anonymous": LOGIN, "liaison": FORBIDDEN,
                                                                  "other_liaison": FORBIDDEN, "staff": FORBIDDEN,
                                                                  "admin": MISSING, "auditor": FORBIDDEN})],
    # a manual urge: staff and admins act (no such item here: 404); the auditor only reads
    "review.overdue": [("POST", "/review/overdue", {"anonymous": LOGIN, "liaison": FORBIDDEN,
                                                    "other_liaison": FORBIDDEN, "staff": MISSING, "admin": MISSING,
                                                    "auditor": FORBIDDEN})],
    "review.overdue_csv": [("GET", "/review/overdue.csv", {"anonymous": LOGIN, "liaison": FORBIDDEN,
                                                           "other_liaison": FORBIDDEN, "staff": OK, "admin": OK,
                                                           "auditor": OK})],
}
