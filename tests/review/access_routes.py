"""Access rows of the review area's own routes, in the format of ROUTES in tests/test_access.py
(endpoint → [(method, url, {role: expected status})]); that table extends itself with them."""

from __future__ import annotations

OK, LOGIN, FORBIDDEN, MISSING, BAD = 200, 302, 403, 404, 400
ROLES = ("anonymous", "liaison", "other_liaison", "staff", "admin", "auditor")

ROUTES: dict[str, list[tuple[str, str, dict[str, int]]]] = {
    # the review queue: staff and admins act, the auditor reads, liaisons never see it;
    # an empty bulk action (nothing selected) is refused with a message: 400
    "review.queue": [
        ("GET", "/review/queue", {"anonymous": LOGIN, "liaison": FORBIDDEN, "other_liaison": FORBIDDEN, "staff": OK,
                                  "admin": OK, "auditor": OK}),
        ("POST", "/review/queue", {"anonymous": LOGIN, "liaison": FORBIDDEN, "other_liaison": FORBIDDEN, "staff": BAD,
                                   "admin": BAD, "auditor": FORBIDDEN}),
    ],
}
