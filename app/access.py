"""Route guards shared by the leading group's areas (review, dashboard, rankings, briefs, exports,
plan drafting). Each area still decides per route which one applies; ids are checked in the area."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort
from flask_login import current_user, login_required


def _requiring(allowed: Callable[[Any], bool], view: Callable) -> Callable:
    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not allowed(current_user):
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def office_view_required(view: Callable) -> Callable:
    """Leading-group staff, admins and auditors (read-only): pages that show every unit's data."""
    return _requiring(lambda user: user.sees_everything, view)


def office_required(view: Callable) -> Callable:
    """Leading-group staff and admins only: actions (auditors and liaisons get 403)."""
    return _requiring(lambda user: user.is_office, view)
