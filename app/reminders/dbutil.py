"""Small database helpers shared by the reminder services: INSERT … ON CONFLICT DO NOTHING on
SQLite and PostgreSQL, and the naive-UTC clock the tables store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db


def utcnow() -> datetime:
    """Now as naive UTC, the way every table stores time."""
    return datetime.now(UTC).replace(tzinfo=None)


def dialect() -> str:
    return db.session.get_bind().dialect.name


def insert_ignore(model: Any, index_elements: list[str]) -> Any:
    """``INSERT … ON CONFLICT (index_elements) DO NOTHING`` for the current database."""
    insert = postgresql.insert if dialect() == "postgresql" else sqlite.insert
    return insert(model).on_conflict_do_nothing(index_elements=index_elements)


def _sqlite_rows(rows: Sequence[tuple]) -> list[tuple]:
    """Rows with dates and times as SQLAlchemy stores them in SQLite (ISO text); each distinct
    value converted once."""
    cache: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        if not isinstance(value, date):
            return value
        text = cache.get(value)
        if text is None:
            text = cache[value] = (value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime)
                                   else value.isoformat())
        return text

    dated = [i for i, v in enumerate(rows[0]) if isinstance(v, date)] if rows else []
    if not dated:
        return list(rows)
    result = []
    for row in rows:
        values = list(row)
        for i in dated:
            values[i] = convert(values[i])
        result.append(tuple(values))
    return result


def insert_ignore_many(table: Table, columns: Sequence[str], rows: Sequence[tuple], conflict: Sequence[str],
                       returning: Sequence[str]) -> list[tuple]:
    """INSERT many rows, skipping those whose ``conflict`` key exists; returns the ``returning``
    columns of the rows written. Rows are written in the order given: give them in key order,
    so that concurrent writers take their locks in the same order.

    Fast for hundreds of thousands of rows, in the current transaction: on PostgreSQL the rows
    are copied (COPY) into a temporary table and moved by one INSERT … SELECT … ON CONFLICT DO
    NOTHING RETURNING; on SQLite they go straight in, in multi-row INSERT … ON CONFLICT DO
    NOTHING RETURNING statements of a few thousand rows each."""
    if not rows:
        return []
    conn = db.session.connection()
    quoted = ", ".join(f'"{c}"' for c in columns)
    keys = ", ".join(f'"{c}"' for c in conflict)
    back = ", ".join(f'"{c}"' for c in returning)
    if dialect() == "postgresql":
        tmp = f"tmp_{table.name}"
        types = ", ".join(f'"{c}" {table.c[c].type.compile(dialect=conn.dialect)}' for c in columns)
        conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {tmp} ({types}) ON COMMIT DROP")
        conn.exec_driver_sql(f"DELETE FROM {tmp}")
        raw = conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {tmp} ({quoted}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        result = conn.exec_driver_sql(
            f'INSERT INTO "{table.name}" ({quoted}) SELECT {quoted} FROM {tmp} '
            f"ON CONFLICT ({keys}) DO NOTHING RETURNING {back}")
        written = [tuple(r) for r in result]
        conn.exec_driver_sql(f"DELETE FROM {tmp}")
        return written
    per_statement = max(1, 32000 // len(columns))  # SQLite binds at most 32,766 values per statement
    values = _sqlite_rows(rows)
    placeholder = "(" + ", ".join("?" * len(columns)) + ")"
    cursor = conn.connection.driver_connection.cursor()
    written = []
    try:
        for start in range(0, len(values), per_statement):
            chunk = values[start:start + per_statement]
            cursor.execute(
                f'INSERT INTO "{table.name}" ({quoted}) VALUES {", ".join([placeholder] * len(chunk))} '
                f"ON CONFLICT ({keys}) DO NOTHING RETURNING {back}",
                [v for row in chunk for v in row])
            written += cursor.fetchall()
    finally:
        cursor.close()
    return written
