"""Writing and checking audit events: one per change, in the same transaction as the change.

``record()`` keeps each event (its content already in canonical form) in the session. Just before the
transaction commits, ``flush_events()`` locks the chain's head row (``audit_head``) -- ``SELECT … FOR UPDATE``
on PostgreSQL; on SQLite an UPDATE, which takes the database's write lock -- numbers the events after the head,
hashes each onto the one before (``chain.py``), inserts them and moves the head: concurrent writers extend one
chain and never fork it, and the lock is held only while a transaction commits, not while it works. A
savepoint's rollback takes its own events along; a query of the log in the same transaction writes the
pending events first, as autoflush would.

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
from ..timeutil import utcnow
from .chain import (
    ALGORITHMS,
    GENESIS_HASH,
    VerifyResult,
    canonical_json,
    envelope,
    parse_anchor,
    verify_chain,
)
from .models import AuditEvent, AuditHead

ALGORITHM = "sha256"

Actor = tuple[int | None, str | None, str | None]

_HEAD = AuditHead.__table__
_EVENT = AuditEvent.__table__
_CHAIN_KEY = "audit_pending"  # session.info: this transaction's _Pending events
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


_LOCK_HEAD = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update()
_TOUCH_HEAD = (update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq)
               .returning(_HEAD.c.seq, _HEAD.c.hash))
_WRITE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(seq=bindparam("head_seq"), hash=bindparam("head_hash"))
_INSERT_EVENTS = _EVENT.insert()


class _Pending:
    """This transaction's events waiting to be chained, and what each open savepoint started with (so that a
    savepoint's rollback takes its own events along)."""

    __slots__ = ("ended", "events", "saved")

    def __init__(self) -> None:
        self.events: list[tuple[bytes, dict[str, Any]]] = []  # (canonical content, the search columns)
        self.saved: dict[int, list[tuple[bytes, dict[str, Any]]]] = {}
        self.ended: tuple[SessionTransaction, list[tuple[bytes, dict[str, Any]]] | None] | None = None


def _connection(session: Session) -> Any:
    return session.connection(bind_arguments={"mapper": AuditEvent.__mapper__})


def _lock_head(connection: Any) -> tuple[int, str]:
    """Lock the head row to the end of the transaction and read it (creating it before the first event ever).

    On PostgreSQL ``SELECT … FOR UPDATE`` waits for the writer holding it and returns the row as that writer
    committed it; on SQLite the UPDATE takes the database's write lock (waiting out busy_timeout)."""
    lock = _TOUCH_HEAD if connection.dialect.name == "sqlite" else _LOCK_HEAD
    row = connection.execute(lock).first()
    if row is None:
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        connection.execute(insert(_HEAD).values(id=1, seq=0, hash=GENESIS_HASH).on_conflict_do_nothing())
        row = connection.execute(lock).one()
    return row.seq, row.hash


def flush_events(session: Session | None = None) -> None:
    """Chain and write the transaction's pending events now: lock the head row, number and hash the events
    after it, insert them and move the head (three statements in all).

    Commit calls it, so the head row is locked only while the transaction commits, not while it works; a
    query on the audit log in the same transaction calls it first, as autoflush would."""
    session = session or db.session()
    pending: _Pending | None = session.info.get(_CHAIN_KEY)
    if pending is None or not pending.events:
        return
    connection = _connection(session)
    seq, prev = _lock_head(connection)
    digest_of = ALGORITHMS[ALGORITHM]
    rows = []
    for content_json, columns in pending.events:
        seq += 1
        digest = digest_of(envelope(seq, prev, content_json))
        rows.append({**columns, "seq": seq, "content": content_json.decode("utf-8"), "algorithm": ALGORITHM,
                     "prev_hash": prev, "hash": digest})
        prev = digest
    connection.execute(_INSERT_EVENTS, rows)  # one multi-row INSERT (a cached statement)
    connection.execute(_WRITE_HEAD, {"head_seq": seq, "head_hash": prev})
    pending.events = []


@event.listens_for(Session, "before_commit")
def _write_on_commit(session: Session) -> None:
    """The events of a transaction are chained and written just before it commits (a savepoint's release
    leaves them to the transaction's commit)."""
    if not session.in_nested_transaction():
        flush_events(session)


@event.listens_for(Session, "after_transaction_create")
def _remember_savepoint(session: Session, transaction: SessionTransaction) -> None:
    pending = session.info.get(_CHAIN_KEY)
    if pending is not None and transaction.nested:
        pending.saved[id(transaction)] = list(pending.events)


@event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session: Session, transaction: SessionTransaction) -> None:
    """Pending events end with the transaction. A savepoint's end is settled by ``_savepoint_rolled_back`` if it
    was a rollback (that event comes right after this one); the subtransaction each flush opens is no end."""
    pending = session.info.get(_CHAIN_KEY)
    if pending is None:
        return
    if transaction.parent is None:
        session.info.pop(_CHAIN_KEY, None)
    elif transaction.nested:
        pending.ended = (transaction, pending.saved.pop(id(transaction), None))


@event.listens_for(Session, "after_soft_rollback")
def _savepoint_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(_CHAIN_KEY)
    if pending is None or pending.ended is None or pending.ended[0] is not previous_transaction:
        return
    # What was pending when the savepoint began is pending again (any of it written inside the savepoint is
    # gone from the database with it); what was recorded inside is dropped.
    pending.events = list(pending.ended[1] or [])
    pending.ended = None


def pending_count(session: Session | None = None) -> int:
    """How many events this transaction has recorded and not yet written."""
    pending = (session or db.session()).info.get(_CHAIN_KEY)
    return len(pending.events) if pending is not None else 0


def current_head() -> tuple[int, str]:
    """(count, hash) of the chain: the head row, which moves with every commit that adds events (reading it
    writes this transaction's pending events first)."""
    row = db.session.execute(select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1)).first()
    return (row.seq, row.hash) if row else (0, GENESIS_HASH)


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
) -> None:
    """Record one event in the current transaction: it is chained and written when the transaction commits,
    and rolled back with it.

    ``changes`` is ``{field: [before, after]}`` (see ``diff``); ``actor`` defaults to the logged-in user. The
    content is serialised here, so a value the chain cannot hold fails the change that brought it."""
    session = db.session()
    pending = session.info.get(_CHAIN_KEY)
    if pending is None:
        pending = session.info[_CHAIN_KEY] = _Pending()
    pending.ended = None
    user_id, username, unit_name = actor or _actor()
    at = utcnow()
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
    columns = {"at": at.replace(tzinfo=None), "user_id": user_id, "username": username, "unit_name": unit_name,
               "ip": ip, "request_id": rid, "action": action, "entity_type": entity_type, "entity_id": entity_key}
    pending.events.append((canonical_json(content), columns))


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


def _reads_the_log(state: ORMExecuteState) -> bool:
    """Does this query read the audit log or its head (so this transaction's pending events must be in)?"""
    if state.is_orm_statement:
        mappers = [*state.all_mappers, state.bind_mapper]
        return any(m is not None and (m.local_table is _EVENT or m.local_table is _HEAD) for m in mappers)
    froms = getattr(state.statement, "get_final_froms", lambda: [])()  # cheap for a Core statement
    return any(getattr(f, "name", None) in (_EVENT.name, _HEAD.name) for f in froms)


@event.listens_for(Session, "do_orm_execute")
def _refuse_unaudited_bulk(state: ORMExecuteState) -> None:
    """Refuse ``session.execute(update(Model)…)`` / ``delete(Model)`` on an audited table unless a service marked
    it ``execution_options(audited=True)`` after recording the change with ``record()``. (And before a query
    reads the audit log, write the events this transaction has pending, as autoflush would.)"""
    if state.is_select:
        pending = state.session.info.get(_CHAIN_KEY)
        if pending is not None and pending.events and _reads_the_log(state):
            flush_events(state.session)
        return
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
