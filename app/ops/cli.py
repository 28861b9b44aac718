"""`flask backup create PATH` and `flask backup restore PATH`."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import AppGroup

from .backup import BackupError, create_backup, restore_backup

backup_cli = AppGroup("backup", help="Back up the database to a file, or restore it from one.")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"  # pragma: no cover


@backup_cli.command("create")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
def backup_create(path: str, force: bool) -> None:
    """Write a backup of the configured database to PATH (SQLite: a database file; PostgreSQL: a
    pg_dump custom-format file)."""
    try:
        result = create_backup(path, force=force)
    except BackupError as exc:
        click.echo(f"error: {exc}", err=True)
        click.echo("no backup was written.", err=True)
        sys.exit(1)
    kind = "SQLite" if result.kind == "sqlite" else "PostgreSQL, pg_dump custom format"
    click.echo(f"backup written: {result.path} ({kind}, {_size(result.size)})")
    if result.audit_head:
        click.echo(f"audit chain head: {result.audit_head} (hash@events; compare after a restore)")


@backup_cli.command("restore")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace everything in a database that is not empty.")
def backup_restore(path: str, force: bool) -> None:
    """Restore PATH, made by `flask backup create`, into the configured database.

    Stop the web server and the scheduler first. A database that holds data is refused unless
    --force is given."""
    try:
        result = restore_backup(path, force=force)
    except BackupError as exc:
        click.echo(f"error: {exc}", err=True)
        click.echo("the database was not changed.", err=True)
        sys.exit(1)
    click.echo(f"restored {result.path} into {result.database}")
    if result.revisions:
        click.echo(f"schema revision: {', '.join(result.revisions)} (run `flask db upgrade` if this code is newer)")
    if result.audit_head:
        click.echo(f"audit chain head: {result.audit_head}; check the chain with `flask audit verify`")
    if result.missing_triggers:
        click.echo("warning: the audit table's append-only triggers are missing: "
                   f"{', '.join(result.missing_triggers)}", err=True)
        sys.exit(3)


def register_ops_cli(app: Flask) -> None:
    app.cli.add_command(backup_cli)
