"""Writing audit events: one per change, in the same transaction as the change."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask import g, has_request_context, request
from flask_login import current_user
from sqlalchemy import select

from ..extensions import db
from .chain import GENESIS_HASH, make_row
from .models import AuditEvent, AuditHead

ALGORITHM = "sha256"


def request_id() -> str | None:
    if not has_request_context():
        return None
    if "request_id" not in g:
        g.request_id = request.headers.get("X-Request-ID", "")[:64] or uuid.uuid4().hex
    return g.request_id


def actor_of(user: Any) -> tuple[int | None, str | None, str | None]:
    """The (id, user name, unit name) an event records for a user object."""
    if user is None:
        return None, None, None
    return user.id, user.username, user.unit.name if user.unit else None


def _actor() -> tuple[int | None, str | None, str | None]:
    if has_request_context() and current_user and getattr(current_user, "is_authenticated", False):
        unit = current_user.unit.name if current_user.unit else None
        return current_user.id, current_user.username, unit
    return None, None, None


def _plain(value: Any) -> Any:
    """Values as the audit log keeps them: Decimals, dates and aware datetimes stay typed."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Fields whose value changed, as {field: [before, after]}."""
    changes = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new:
            changes[key] = [_plain(old), _plain(new)]
    return changes


def snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    return {f: getattr(obj, f) for f in fields}


def record(
    action: str,
    entity_type: str | None = None,
    entity_id: Any = None,
    changes: Mapping[str, Any] | None = None,
    *,
    reason: str | None = None,
    extra: Mapping[str, Any] | None = None,
    actor: tuple[int | None, str | None, str | None] | None = None,
) -> AuditEvent:
    """Append one event to the chain in the current transaction.

    The head row is locked (SELECT … FOR UPDATE on PostgreSQL; SQLite serialises writers),
    so concurrent writers extend one chain and never fork it."""
    user_id, username, unit_name = actor or _actor()
    at = datetime.now(UTC)
    ip = request.remote_addr if has_request_context() else None
    content: dict[str, Any] = {
        "at": at,
        "user": username,
        "user_id": user_id,
        "unit": unit_name,
        "ip": ip,
        "request_id": request_id(),
        "action": action,
        "entity": {"type": entity_type, "id": None if entity_id is None else str(entity_id)},
        "changes": _plain(dict(changes or {})),
    }
    if reason:
        content["reason"] = reason
    if extra:
        content["extra"] = _plain(dict(extra))
    head = db.session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS_HASH)
        db.session.add(head)
        db.session.flush()
    seq = head.seq + 1
    row = make_row(seq, head.hash, content, ALGORITHM)
    event = AuditEvent(
        seq=seq,
        at=at,
        user_id=user_id,
        username=username,
        unit_name=unit_name,
        ip=ip,
        request_id=content["request_id"],
        action=action,
        entity_type=entity_type,
        entity_id=content["entity"]["id"],
        content=row.content,
        algorithm=ALGORITHM,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
    db.session.add(event)
    head.seq, head.hash = seq, row.hash
    db.session.flush()
    return event


def json_default(value: Any) -> Any:
    if isinstance(value, (Decimal, date, datetime)):
        return str(value)
    raise TypeError(type(value).__name__)
