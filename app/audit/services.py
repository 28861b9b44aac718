"""Writing and checking audit events: one per change, in the same transaction as the change.

``record()`` appends one event to the hash chain (see ``chain.py``). The first event of a transaction locks the
chain's head row (``audit_head``) -- ``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite a write to it takes the
database's write lock -- and reads it; the lock is held to the end of the transaction, so concurrent
writers extend one chain and never fork it. The events wait in the session and are written, with the head row, in
one multi-row INSERT just before the transaction commits (or when a query of the same transaction reads the
log, or on ``flush_events()``); a savepoint's rollback takes its own events along.

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


_LOCK_HEAD = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update()
_TOUCH_HEAD = (update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq)
               .returning(_HEAD.c.seq, _HEAD.c.hash))
_WRITE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(seq=bindparam("head_seq"), hash=bindparam("head_hash"))
_INSERT_EVENTS = _EVENT.insert()
_CREATED_INSIDE = object()  # the chain was started inside the savepoint that ended


class _Chain:
    """This transaction's end of the chain: the last event, the events not yet written, and what each open
    savepoint started from (so a savepoint's rollback takes its events along)."""

    __slots__ = ("ended", "hash", "pending", "saved", "seq")

    def __init__(self, seq: int, digest: str) -> None:
        self.seq, self.hash = seq, digest
        self.pending: list[dict[str, Any]] = []
        self.saved: dict[int, tuple[int, str, list[dict[str, Any]]]] = {}
        self.ended: tuple[SessionTransaction, Any] | None = None


def _connection(session: Session) -> Any:
    return session.connection(bind_arguments={"mapper": AuditEvent.__mapper__})


def _lock_head(session: Session) -> _Chain:
    """Lock the head row for the rest of the transaction and read it (creating it before the first event
    ever). On PostgreSQL ``SELECT … FOR UPDATE`` returns the row as the last writer committed it; on SQLite
    the UPDATE takes the database's write lock first (waiting out busy_timeout), so no writer commits in
    between."""
    connection = _connection(session)
    lock = _TOUCH_HEAD if connection.dialect.name == "sqlite" else _LOCK_HEAD
    row = connection.execute(lock).first()
    if row is None:
        insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
        connection.execute(insert(_HEAD).values(id=1, seq=0, hash=GENESIS_HASH).on_conflict_do_nothing())
        row = connection.execute(lock).one()
    return _Chain(row.seq, row.hash)


def _chain(session: Session) -> _Chain:
    chain = session.info.get(_CHAIN_KEY)
    if chain is None:
        chain = session.info[_CHAIN_KEY] = _lock_head(session)
    chain.ended = None
    return chain


def flush_events(session: Session | None = None) -> None:
    """Write the transaction's pending events and the head row now (commit does it anyway; a query on
    ``AuditEvent`` in the same transaction does it first)."""
    session = session or db.session()
    chain = session.info.get(_CHAIN_KEY)
    if chain is None or not chain.pending:
        return
    connection = _connection(session)
    head = {"head_seq": chain.seq, "head_hash": chain.hash}
    if connection.dialect.name == "postgresql":  # one round trip: WITH … INSERT … UPDATE audit_head
        rows = chain.pending
        for start in range(0, len(rows), 1000):  # at most 14,000 parameters per statement
            chunk = rows[start:start + 1000]
            statement = _WRITE_HEAD.add_cte(_EVENT.insert().values(chunk).cte("audit_rows"))
            connection.execute(statement, head)
    else:
        connection.execute(_INSERT_EVENTS, chain.pending)  # one multi-row INSERT
        connection.execute(_WRITE_HEAD, head)
    chain.pending = []


@event.listens_for(Session, "before_commit")
def _write_on_commit(session: Session) -> None:
    """The events of a transaction (or of a savepoint being released) are written just before it commits."""
    flush_events(session)


@event.listens_for(Session, "after_transaction_create")
def _remember_savepoint(session: Session, transaction: SessionTransaction) -> None:
    chain = session.info.get(_CHAIN_KEY)
    if chain is not None and transaction.nested:
        chain.saved[id(transaction)] = (chain.seq, chain.hash, list(chain.pending))


@event.listens_for(Session, "after_transaction_end")
def _transaction_ended(session: Session, transaction: SessionTransaction) -> None:
    """The lock ends with the transaction. A savepoint's end is settled by ``_savepoint_rolled_back`` if it was
    a rollback (that event comes right after this one); the subtransaction each flush opens is no such end."""
    chain = session.info.get(_CHAIN_KEY)
    if chain is None:
        return
    if transaction.parent is None:
        session.info.pop(_CHAIN_KEY, None)
    elif transaction.nested:
        chain.ended = (transaction, chain.saved.pop(id(transaction), _CREATED_INSIDE))


@event.listens_for(Session, "after_soft_rollback")
def _savepoint_rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    chain = session.info.get(_CHAIN_KEY)
    if chain is None or chain.ended is None or chain.ended[0] is not previous_transaction:
        return
    saved = chain.ended[1]
    if saved is _CREATED_INSIDE:  # the lock too may be gone with the savepoint: start again next time
        session.info.pop(_CHAIN_KEY, None)
        return
    chain.seq, chain.hash, pending = saved
    chain.pending = list(pending)  # rows written inside the savepoint are gone from the database too
    chain.ended = None


def current_head() -> tuple[int, str]:
    """(count, hash) of the chain as this transaction sees it, its own events included."""
    chain = db.session.info.get(_CHAIN_KEY)
    if chain is not None:
        return chain.seq, chain.hash
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
    chain.pending.append(values)  # written with the others at commit (see flush_events)
    chain.seq, chain.hash = seq, row.hash
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


def _reads_events(state: ORMExecuteState) -> bool:
    if state.is_orm_statement:
        return any(mapper.local_table is _EVENT for mapper in state.all_mappers)
    froms = getattr(state.statement, "get_final_froms", lambda: [])()  # cheap for a Core statement
    return any(getattr(f, "name", None) == _EVENT.name for f in froms)


@event.listens_for(Session, "do_orm_execute")
def _refuse_unaudited_bulk(state: ORMExecuteState) -> None:
    """Refuse ``session.execute(update(Model)…)`` / ``delete(Model)`` on an audited table unless a service marked
    it ``execution_options(audited=True)`` after recording the change with ``record()``. (And before a query
    reads the audit log, write the events this transaction has pending, as autoflush would.)"""
    if state.is_select:
        chain = state.session.info.get(_CHAIN_KEY)
        if chain is not None and chain.pending and _reads_events(state):
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
