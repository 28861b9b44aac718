"""Writing and checking audit events: one per change, in the same transaction as the change.

``record()`` appends one event to the hash chain (see ``chain.py``). The first event of a transaction locks the
chain's head row (``audit_head``) -- ``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite a write to it takes the
database's write lock -- and reads the last event; the lock is held to the end of the transaction, so concurrent
writers extend one chain and never fork it. Each event is inserted at once (a plain INSERT, visible to the rest
of the transaction); the head row is written once, just before the transaction commits.

The module also refuses ORM bulk UPDATE / DELETE statements on audited tables (``session.execute(update(
Report)…)``): such a statement bypasses the services and their events. A service that does record the change
passes ``execution_options(audited=True)``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial
from typing import Any, NamedTuple

from flask import g, has_request_context, request
from flask_login import current_user
from sqlalchemy import bindparam, event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from ..extensions import db
from .chain import GENESIS_HASH, VerifyResult, make_row, parse_anchor, verify_chain
from .models import AuditEvent, AuditHead

ALGORITHM = "sha256"

Actor = tuple[int | None, str | None, str | None]

_HEAD = AuditHead.__table__
_EVENT = AuditEvent.__table__
_CHAIN_KEY = "audit_chain"  # session.info: this transaction's _Chain
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


# --- who, from where ----------------------------------------------------------------------------------------


def request_id() -> str | None:
    """The request's id: the proxy's X-Request-ID when it is a plain token, else a new one."""
    if not has_request_context():
        return None
    if "request_id" not in g:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    return g.request_id


def actor_of(user: Any) -> Actor:
    """The (id, user name, unit name) an event records for a user object."""
    if user is None:
        return None, None, None
    return user.id, user.username, user.unit.name if user.unit else None


def _actor() -> Actor:
    if has_request_context() and current_user and getattr(current_user, "is_authenticated", False):
        return actor_of(current_user)
    return None, None, None


# --- values -------------------------------------------------------------------------------------------------


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


# --- the chain's head ---------------------------------------------------------------------------------------


def _dialect(session: Session) -> str:
    return session.get_bind(mapper=AuditHead.__mapper__).dialect.name


_LAST_EVENT = select(_EVENT.c.seq, _EVENT.c.hash).order_by(_EVENT.c.seq.desc()).limit(1)
_INSERT_EVENT = _EVENT.insert()
_LOCK_HEAD = select(_HEAD.c.id).where(_HEAD.c.id == 1).with_for_update()
_TOUCH_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq)
_WRITE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(seq=bindparam("head_seq"), hash=bindparam("head_hash"))


class _Chain:
    """This transaction's view of the chain: the last event it knows of, and whether the head row needs it."""

    __slots__ = ("hash", "seq", "stale", "unwritten")

    def __init__(self, seq: int, digest: str) -> None:
        self.seq, self.hash, self.unwritten, self.stale = seq, digest, False, False


def _connection(session: Session) -> Any:
    return session.connection(bind_arguments={"mapper": AuditEvent.__mapper__})


def _last_event(connection: Any) -> tuple[int, str]:
    row = connection.execute(_LAST_EVENT).first()
    return (row.seq, row.hash) if row else (0, GENESIS_HASH)


def _lock_head(session: Session) -> _Chain:
    """Lock the head row for the rest of the transaction, then read the last event (created on the first
    event ever). The lock serialises appends; the last event row, not the head row, says where to go on."""
    connection = _connection(session)
    dialect = connection.dialect.name
    if dialect == "sqlite":
        # A write takes SQLite's write lock (waiting out busy_timeout): no other writer commits until this
        # transaction ends, and what is read below is the last committed state.
        locked = connection.execute(_TOUCH_HEAD).rowcount
    else:
        locked = connection.execute(_LOCK_HEAD).first() is not None
    if not locked:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        connection.execute(insert(_HEAD).values(id=1, seq=0, hash=GENESIS_HASH).on_conflict_do_nothing())
        connection.execute(_LOCK_HEAD)
    return _Chain(*_last_event(connection))


def _chain(session: Session) -> _Chain:
    chain = session.info.get(_CHAIN_KEY)
    if chain is None:
        chain = session.info[_CHAIN_KEY] = _lock_head(session)
    elif chain.stale:  # a savepoint ended: its events may be gone; the lock is still held
        chain.seq, chain.hash = _last_event(_connection(session))
        chain.stale = False
    return chain


@event.listens_for(Session, "before_commit")
def _write_head(session: Session) -> None:
    """Write the head row once, with the transaction's last event, just before it commits."""
    chain = session.info.get(_CHAIN_KEY)
    if chain is not None and (chain.unwritten or chain.stale):
        connection = _connection(session)
        if chain.stale:
            chain.seq, chain.hash = _last_event(connection)
        connection.execute(_WRITE_HEAD, {"head_seq": chain.seq, "head_hash": chain.hash})
        chain.unwritten = chain.stale = False


@event.listens_for(Session, "after_transaction_end")
def _forget_head(session: Session, transaction: SessionTransaction) -> None:
    """The lock ends with the transaction. After a savepoint (released or rolled back) the last event is read
    again before the next append. The subtransaction each flush opens is no such end."""
    chain = session.info.get(_CHAIN_KEY)
    if chain is None:
        return
    if transaction.parent is None:
        session.info.pop(_CHAIN_KEY, None)
    elif transaction.nested:
        chain.stale = True


def current_head() -> tuple[int, str]:
    """(count, hash) of the chain's last event as this transaction sees it, its own events included."""
    chain = db.session.info.get(_CHAIN_KEY)
    if chain is not None and not chain.stale:
        return chain.seq, chain.hash
    return _last_event(_connection(db.session()))


def head_anchor() -> str:
    """The head as an anchor ``HASH@COUNT`` (``GENESIS_HASH@0`` for an empty log)."""
    seq, digest = current_head()
    return f"{digest}@{seq}"


# --- writing ------------------------------------------------------------------------------------------------


def record(
    action: str,
    entity_type: str | None = None,
    entity_id: Any = None,
    changes: Mapping[str, Any] | None = None,
    *,
    reason: str | None = None,
    extra: Mapping[str, Any] | None = None,
    actor: Actor | None = None,
) -> int:
    """Append one event to the chain in the current transaction (committed or rolled back with it); its seq.

    ``changes`` is ``{field: [before, after]}`` (see ``diff``); ``actor`` defaults to the logged-in user."""
    session = db.session()
    chain = _chain(session)
    user_id, username, unit_name = actor or _actor()
    at = datetime.now(UTC)
    ip = request.remote_addr if has_request_context() else None
    rid = request_id()
    entity_key = None if entity_id is None else str(entity_id)
    content: dict[str, Any] = {
        "at": at,
        "user": username,
        "user_id": user_id,
        "unit": unit_name,
        "ip": ip,
        "request_id": rid,
        "action": action,
        "entity": {"type": entity_type, "id": entity_key},
        "changes": _plain(dict(changes or {})),
    }
    if reason:
        content["reason"] = reason
    if extra:
        content["extra"] = _plain(dict(extra))
    seq = chain.seq + 1
    row = make_row(seq, chain.hash, content, ALGORITHM)
    values = {
        "seq": seq, "at": at.replace(tzinfo=None), "user_id": user_id, "username": username, "unit_name": unit_name,
        "ip": ip, "request_id": rid, "action": action, "entity_type": entity_type, "entity_id": entity_key,
        "content": row.content, "algorithm": ALGORITHM, "prev_hash": row.prev_hash, "hash": row.hash,
    }
    _connection(session).execute(_INSERT_EVENT, values)  # now: queries in this transaction see it
    chain.seq, chain.hash, chain.unwritten = seq, row.hash, True
    return seq


def json_default(value: Any) -> Any:
    if isinstance(value, (Decimal, date, datetime)):
        return str(value)
    raise TypeError(type(value).__name__)


# --- verifying ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyReport:
    """``verify_log``'s answer: the chain's result, and the first bad event's row when it exists."""

    result: VerifyResult
    bad_event: AuditEvent | None = None

    @property
    def ok(self) -> bool:
        return self.result.ok


class _StoredRow(NamedTuple):
    """An event as ``verify_chain`` reads it, straight from the database cursor."""

    seq: int
    prev_hash: str
    hash: str
    algorithm: str
    content: str


_STREAM_SQL = "SELECT seq, prev_hash, hash, algorithm, content FROM audit_event ORDER BY seq"


def _stream(batch: int) -> Iterator[_StoredRow]:
    """Every event in seq order, ``batch`` rows at a time, through the driver's own cursor (a server-side one
    on PostgreSQL): memory stays flat, and it is about a third faster than result rows built by SQLAlchemy."""
    connection = db.session.connection(bind_arguments={"mapper": AuditEvent.__mapper__})
    dbapi = connection.connection
    if connection.dialect.name == "postgresql":
        cursor = dbapi.driver_connection.cursor(name=f"audit_verify_{uuid.uuid4().hex[:12]}")
    else:
        cursor = dbapi.cursor()
    make = partial(tuple.__new__, _StoredRow)
    try:
        cursor.execute(_STREAM_SQL)
        while rows := cursor.fetchmany(batch):
            yield from map(make, rows)
    finally:
        cursor.close()


def verify_log(anchor: str | tuple[str, int] | None = None, *, batch: int = 20_000) -> VerifyReport:
    """Recompute the whole chain, streaming the events in seq order; name the first bad one.

    Also checks the head row (read first: writers may append meanwhile) against the event it names, so a log
    cut short while the head row stays is caught; ``anchor`` (``HASH@COUNT``) catches a log cut short and
    re-hashed together with its head row."""
    parsed = parse_anchor(anchor) if isinstance(anchor, str) else anchor
    head = db.session.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)).first()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    result = verify_chain(_stream(batch), parsed)
    if result.ok and head_seq:
        if result.count < head_seq:
            result = VerifyResult(False, result.count, result.head_hash, result.count + 1,
                                  f"event {result.count + 1}: missing; the head row names {head_seq} events, "
                                  f"the log holds {result.count}")
        else:
            stored = dict(db.session.execute(select(_EVENT.c.seq, _EVENT.c.hash).where(
                _EVENT.c.seq.in_([head_seq - 1, head_seq]))).all())
            if stored.get(head_seq) != head_hash:
                result = VerifyResult(False, head_seq - 1, stored.get(head_seq - 1, GENESIS_HASH), head_seq,
                                      f"event {head_seq}: its hash differs from the head row's {head_hash[:12]}…")
    bad = db.session.get(AuditEvent, result.first_bad_seq) if result.first_bad_seq else None
    return VerifyReport(result, bad)


# --- the bulk-change guard ----------------------------------------------------------------------------------

#: Tables whose rows are not domain data: the chain's own head, the outbox and inbox, the scheduler's locks, and
#: the login bookkeeping (sessions, failures, locks, recovery codes) whose security events the auth services
#: record themselves. An ORM bulk UPDATE / DELETE on any other table must be marked ``audited=True`` by a service
#: that records the change.
UNAUDITED_TABLES: frozenset[str] = frozenset({
    "audit_head", "alembic_version", "notice", "inbox_entry", "scheduler_job",
    "user_session", "login_failure", "login_lock", "recovery_code",
})
#: Bookkeeping columns of audited tables that a bulk UPDATE may set alone (a one-time code's replay guard, a
#: token's last use).
UNAUDITED_COLUMNS: dict[str, frozenset[str]] = {
    "user": frozenset({"totp_last_step"}),
    "api_token": frozenset({"last_used_at"}),
}


class UnauditedChangeError(RuntimeError):
    """A bulk UPDATE / DELETE on an audited table that no service recorded."""


def _set_columns(statement: Any) -> set[str] | None:
    """The columns an UPDATE sets, when it says so plainly (``.values(...)``); None otherwise."""
    values = getattr(statement, "_values", None)
    if not values:
        return None
    names = {getattr(key, "name", key) for key in values}
    return names if all(isinstance(n, str) for n in names) else None


@event.listens_for(Session, "do_orm_execute")
def _refuse_unaudited_bulk(state: ORMExecuteState) -> None:
    """Refuse ``session.execute(update(Model)…)`` / ``delete(Model)`` on an audited table unless a service marked
    it ``execution_options(audited=True)`` after recording the change with ``record()``."""
    if not (state.is_update or state.is_delete):
        return
    if state.execution_options.get("audited"):
        return
    table = getattr(getattr(state.statement, "table", None), "name", None)
    if table is None or table in UNAUDITED_TABLES:
        return
    if state.is_update and table in UNAUDITED_COLUMNS:
        columns = _set_columns(state.statement)
        if columns is not None and columns <= UNAUDITED_COLUMNS[table]:
            return
    verb = "UPDATE" if state.is_update else "DELETE"
    raise UnauditedChangeError(
        f"bulk {verb} on the audited table {table!r} bypasses the audit log: change the rows through a "
        f"service that calls audit.record(), and mark the statement execution_options(audited=True)")
