"""Unit, group and liaison services."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_babel import gettext
from sqlalchemy import select

from ..audit import services as audit
from ..auth.models import User
from ..extensions import db
from .models import LiaisonTerm, Unit, UnitGroup, UnitGroupMember

UNIT_FIELDS = ("name", "kind", "head_name", "head_email", "active")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class UnitError(Exception):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


def save_unit(unit: Unit | None, values: dict) -> Unit:
    clash = db.session.execute(select(Unit).where(Unit.name == values["name"])).scalar_one_or_none()
    if clash is not None and clash is not unit:
        raise UnitError(gettext("已有同名单位。"), "name")
    if unit is None:
        unit = Unit(**values)
        db.session.add(unit)
        db.session.flush()
        audit.record("unit.create", "unit", unit.id, audit.diff({}, values))
        return unit
    before = audit.snapshot(unit, UNIT_FIELDS)
    for key, value in values.items():
        setattr(unit, key, value)
    changes = audit.diff(before, audit.snapshot(unit, UNIT_FIELDS))
    if changes:
        audit.record("unit.update", "unit", unit.id, changes)
    db.session.flush()
    return unit


def set_group_members(group: UnitGroup, unit_ids: list[int]) -> list[str]:
    """Replace a group's members and re-derive the assignments of every task given to it."""
    from ..plans.services import sync_group

    before = sorted(m.unit_id for m in group.members)
    wanted = sorted(set(unit_ids))
    if before == wanted:
        return []
    units = set(db.session.execute(select(Unit.id).where(Unit.id.in_(wanted))).scalars())
    if units != set(wanted):
        raise UnitError(gettext("所选单位不存在。"), "members")
    for m in list(group.members):
        if m.unit_id not in units:
            group.members.remove(m)
    for uid in wanted:
        if uid not in before:
            group.members.append(UnitGroupMember(unit_id=uid))
    db.session.flush()
    audit.record("group.members", "unit_group", group.id, {"members": [before, wanted]})
    return sync_group(group)


def current_liaison(unit: Unit) -> LiaisonTerm | None:
    return db.session.execute(
        select(LiaisonTerm).where(LiaisonTerm.unit_id == unit.id, LiaisonTerm.ended_at.is_(None))
    ).scalar_one_or_none()


def set_liaison(unit: Unit, user: User | None, by: User | None) -> LiaisonTerm | None:
    """Name the unit's liaison officer, closing the previous term so the history stays."""
    if user is not None and (user.unit_id != unit.id or user.role != "liaison" or not user.active):
        raise UnitError(gettext("联络员须为本单位在用的联络员账号。"), "user_id")
    term = current_liaison(unit)
    if term is not None and user is not None and term.user_id == user.id:
        return term
    now = _now()
    old_id = term.user_id if term else None
    if term is not None:
        term.ended_at = now
    new = None
    if user is not None:
        new = LiaisonTerm(unit_id=unit.id, user_id=user.id, started_at=now, set_by_id=by.id if by else None)
        db.session.add(new)
    db.session.flush()
    audit.record("liaison.set", "unit", unit.id, {"liaison_user_id": [old_id, user.id if user else None]})
    return new


def liaison_history(unit: Unit) -> list[LiaisonTerm]:
    return db.session.execute(
        select(LiaisonTerm).where(LiaisonTerm.unit_id == unit.id).order_by(LiaisonTerm.started_at.desc(), LiaisonTerm.id.desc())
    ).scalars().all()
