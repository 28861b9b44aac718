"""Backups of the configured database, with the database's own tools.

SQLite: the sqlite3 online backup API (a consistent copy while the app runs), written as one
self-contained file (rollback journal, not WAL); restore copies it back into the configured file
the same way. PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore --clean --if-exists
--no-owner --no-privileges --single-transaction`` into the configured database, with the
SQLAlchemy URL turned into a libpq one (the password goes in PGPASSWORD, never on a command line).
The dump carries the audit table's append-only triggers and their ENABLE ALWAYS state.

A restore refuses a database that holds any row (alembic_version aside) unless ``force`` is
given, and refuses a file that is not a backup of this system's kind of database.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from sqlalchemy import inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
# Tables that may hold rows in a database that is still "empty" (a fresh `flask db upgrade`).
IGNORED_TABLES = frozenset({"alembic_version"})
AUDIT_TRIGGERS = {
    "postgresql": ("audit_event_no_update", "audit_event_no_truncate"),
    "sqlite": ("audit_event_no_update", "audit_event_no_delete"),
}


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do, in one line."""


@dataclass(frozen=True)
class AuditHead:
    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.hash}@{self.seq}"


@dataclass(frozen=True)
class BackupResult:
    path: Path
    kind: str  # "sqlite" | "postgresql"
    size: int
    audit_head: AuditHead | None


@dataclass(frozen=True)
class RestoreResult:
    path: Path
    kind: str
    database: str  # the target, password hidden
    audit_head: AuditHead | None
    missing_triggers: tuple[str, ...]
    revisions: tuple[str, ...]  # alembic revisions of the restored schema


# ----------------------------------------------------------------------------- the configured database


def database_url() -> URL:
    return make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])


def database_kind(url: URL) -> str:
    backend = url.get_backend_name()
    if backend in ("sqlite", "postgresql"):
        return backend
    raise BackupError(f"backups support SQLite and PostgreSQL, not {backend}")


def sqlite_file(url: URL) -> Path:
    name = url.database
    if not name or name == ":memory:" or name.startswith("file:"):
        raise BackupError(f"the configured SQLite database {name or ':memory:'!r} is not a plain file")
    return Path(name).resolve()


def libpq_args(url: URL | str) -> tuple[str, dict[str, str]]:
    """A libpq connection URI for pg_dump / pg_restore, and the environment that carries the password.

    ``postgresql+psycopg://u:p@h:5432/db?sslmode=require`` -> ``postgresql://u@h:5432/db?sslmode=require``
    and ``{"PGPASSWORD": "p"}``."""
    url = make_url(url) if isinstance(url, str) else url
    env = {"PGPASSWORD": url.password} if url.password else {}
    plain = url._replace(drivername="postgresql", password=None)  # URL.set() ignores None: no password
    return plain.render_as_string(hide_password=False), env


def _tool(key: str) -> str:
    """The path of pg_dump / pg_restore (config PG_DUMP / PG_RESTORE), or a clear error."""
    name = str(current_app.config.get(key) or key.lower())
    found = shutil.which(name)
    if found is None:
        program = Path(name).name
        raise BackupError(
            f"{program} not found ({name}): install the PostgreSQL client tools of the server's major "
            f"version or newer (Debian/Ubuntu: apt-get install postgresql-client) or set {key} to its path")
    return found


def _run(args: list[str], env: dict[str, str], what: str) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(args, env={**os.environ, **env}, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise BackupError(f"{what} could not be started: {exc.strerror or exc}") from exc
    if result.returncode != 0:
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        detail = " / ".join(lines[-3:]) if lines else f"exit status {result.returncode}"
        raise BackupError(f"{what} failed: {detail}")
    return result


def non_empty_tables() -> list[str]:
    """Tables of the configured database that hold at least one row (alembic_version aside)."""
    url = database_url()
    if database_kind(url) == "sqlite" and not sqlite_file(url).exists():
        return []
    engine = db.engine
    try:
        with engine.connect() as conn:
            names = [n for n in inspect(conn).get_table_names() if n not in IGNORED_TABLES]
            preparer = engine.dialect.identifier_preparer
            return [n for n in sorted(names)
                    if conn.execute(text(f"SELECT 1 FROM {preparer.quote(n)} LIMIT 1")).first() is not None]
    except SQLAlchemyError as exc:
        raise BackupError(f"the configured database cannot be read: {type(exc.orig or exc).__name__}") from exc


def audit_head() -> AuditHead | None:
    """The audit chain's head (last seq and hash) in the configured database, if it has one."""
    try:
        with db.engine.connect() as conn:
            row = conn.execute(text("SELECT seq, hash FROM audit_head WHERE id = 1")).first()
    except SQLAlchemyError:
        return None
    return AuditHead(int(row[0]), str(row[1])) if row else None


def audit_triggers() -> tuple[str, ...]:
    """The audit table's append-only triggers present in the configured database."""
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            rows = conn.execute(text(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass('audit_event') AND NOT tgisinternal"))
        else:
            rows = conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_event'"))
        return tuple(sorted(r[0] for r in rows))


def _revisions() -> tuple[str, ...]:
    try:
        with db.engine.connect() as conn:
            return tuple(sorted(r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))))
    except SQLAlchemyError:
        return ()


# ----------------------------------------------------------------------------- create


def _target(path: str | os.PathLike[str], force: bool) -> Path:
    target = Path(path).expanduser().resolve()
    if target.is_dir():
        raise BackupError(f"{target} is a directory: give the backup file's name")
    if target.exists() and not force:
        raise BackupError(f"{target} already exists: choose another name or add --force to overwrite it")
    if not target.parent.is_dir():
        raise BackupError(f"folder {target.parent} does not exist")
    return target


def create_backup(path: str | os.PathLike[str], *, force: bool = False) -> BackupResult:
    """Write a backup of the configured database to ``path`` (atomically: a partial file never
    takes the name)."""
    url = database_url()
    kind = database_kind(url)
    target = _target(path, force)
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        if kind == "sqlite":
            _sqlite_create(sqlite_file(url), partial)
        else:
            _pg_create(url, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(target, kind, target.stat().st_size, audit_head())


def _sqlite_create(source: Path, partial: Path) -> None:
    if not source.exists():
        raise BackupError(f"the configured SQLite database {source} does not exist")
    src = sqlite3.connect(source)
    dst = sqlite3.connect(partial)
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        if dst.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise BackupError("the copy failed SQLite's integrity check; the source database may be damaged")
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite backup failed: {exc}") from exc
    finally:
        dst.close()
        src.close()


def _pg_create(url: URL, partial: Path) -> None:
    pg_dump = _tool("PG_DUMP")
    dsn, env = libpq_args(url)
    _run([pg_dump, "--format=custom", f"--file={partial}", f"--dbname={dsn}"], env, "pg_dump")


# ----------------------------------------------------------------------------- restore


def _check_backup_file(path: Path, kind: str) -> None:
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    with path.open("rb") as f:
        head = f.read(len(SQLITE_MAGIC))
    found = "sqlite" if head.startswith(SQLITE_MAGIC) else "postgresql" if head.startswith(PGDUMP_MAGIC) else None
    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
    if found is None:
        raise BackupError(f"{path} is not a backup made by `flask backup create` "
                          "(neither a SQLite database nor a pg_dump custom-format file)")
    if found != kind:
        raise BackupError(f"{path} is a {names[found]} backup but the configured database is {names[kind]}: "
                          f"restore it into a {names[found]} database (set DATABASE_URL)")


def restore_backup(path: str | os.PathLike[str], *, force: bool = False) -> RestoreResult:
    """Restore a backup made by ``create_backup`` into the configured database.

    Refuses a database holding rows unless ``force``; everything in it is then replaced."""
    url = database_url()
    kind = database_kind(url)
    source = Path(path).expanduser().resolve()
    _check_backup_file(source, kind)
    if kind == "sqlite":
        _sqlite_check(source)
        if source == sqlite_file(url):
            raise BackupError(f"{source} is the configured database itself")
    else:
        _pg_check(source)
    filled = non_empty_tables()
    if filled and not force:
        shown = ", ".join(filled[:5]) + (", …" if len(filled) > 5 else "")
        raise BackupError(f"the configured database is not empty ({len(filled)} tables hold rows: {shown}); "
                          "restore into an empty database, or add --force to replace everything in it")
    db.session.remove()
    db.engine.dispose()  # no pooled connection of ours holds the old database
    if kind == "sqlite":
        _sqlite_restore(source, sqlite_file(url))
    else:
        _pg_restore(source, url)
    db.engine.dispose()
    present = set(audit_triggers())
    missing = tuple(t for t in AUDIT_TRIGGERS[kind] if t not in present)
    return RestoreResult(source, kind, url.render_as_string(hide_password=True), audit_head(), missing,
                         _revisions())


def _sqlite_check(source: Path) -> None:
    try:
        conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise BackupError(f"{source} fails SQLite's integrity check: it is damaged")
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise BackupError(f"{source} cannot be read as a SQLite database: {exc}") from exc
    if not {"alembic_version", "audit_event"} <= tables:
        raise BackupError(f"{source} is a SQLite database but not one of this system (no audit_event table)")


def _sqlite_restore(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:
        dst.execute("PRAGMA busy_timeout=10000")
        src.backup(dst)
        mode = dst.execute("PRAGMA journal_mode").fetchone()[0]
        if mode == "wal":
            dst.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite restore into {target} failed: {exc}") from exc
    finally:
        dst.close()
        src.close()


def _pg_check(source: Path) -> None:
    pg_restore = _tool("PG_RESTORE")
    listing = _run([pg_restore, "--list", str(source)], {}, "pg_restore --list").stdout
    if " TABLE " not in listing or " audit_event " not in listing:
        raise BackupError(f"{source} is a pg_dump file but not one of this system (no audit_event table)")


def _pg_restore(source: Path, url: URL) -> None:
    pg_restore = _tool("PG_RESTORE")
    dsn, env = libpq_args(url)
    _run([pg_restore, "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", f"--dbname={dsn}", str(source)], env, "pg_restore")
