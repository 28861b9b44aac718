"""Small database helpers shared by the reminder services: INSERT … ON CONFLICT DO NOTHING on
SQLite and PostgreSQL, and the naive-UTC clock the tables store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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
