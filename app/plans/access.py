"""Who may see and change assignments: the one place that decides it for this area."""

from __future__ import annotations

from flask import abort
from sqlalchemy import Select

from ..auth.models import User
from ..extensions import db
from .models import Assignment


def scope_assignments(query: Select, user: User) -> Select:
    """Restrict a query over Assignment to what the user may see."""
    if user.sees_everything:
        return query
    if user.role == "liaison" and user.unit_id:
        return query.where(Assignment.unit_id == user.unit_id)
    return query.where(False)


def may_view_assignment(user: User, assignment: Assignment) -> bool:
    return user.sees_everything or (user.role == "liaison" and user.unit_id == assignment.unit_id)


def may_edit_assignment(user: User, assignment: Assignment) -> bool:
    """The unit's own liaison updates status and progress; the office may too."""
    if not assignment.active:
        return False
    return user.is_office or (user.role == "liaison" and user.unit_id == assignment.unit_id)


def get_assignment_or_404(assignment_id: int, user: User) -> Assignment:
    """Another unit's assignment answers 404, the same as one that does not exist."""
    assignment = db.session.get(Assignment, assignment_id)
    if assignment is None or not may_view_assignment(user, assignment):
        abort(404)
    return assignment
