"""`flask figures import PATH --user USERNAME`: bulk load of figures from CSV or Excel, all or nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from ..extensions import db

figures_cli = AppGroup("figures", help="Reported figures: bulk load from CSV or Excel.")


@figures_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--user", "username", required=True, help="The account the figures are loaded as (staff: any unit; "
              "a liaison: their own unit only).")
def figures_import(path: str, username: str) -> None:
    """Load figures from PATH (.csv or .xlsx). Every bad row is listed with its row number and nothing is
    loaded; exit status 1 then, 2 when the file or the user cannot be used."""
    from ..auth.models import User
    from .importing import ImportFileError, import_figures

    user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None or not user.active:
        click.echo(f"error: no active user {username!r}", err=True)
        sys.exit(2)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        click.echo(f"error: {path}: {exc.strerror or exc}", err=True)
        sys.exit(2)
    try:
        result = import_figures(data, user, filename=Path(path).name)
    except ImportFileError as exc:
        db.session.rollback()
        click.echo(f"error: {path}: {exc.message}", err=True)
        sys.exit(2)
    if not result.ok:
        for message in result.errors:
            click.echo(message, err=True)
        click.echo(f"{len(result.errors)} 处错误，文件中的数据均未导入。", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(result.summary_zh())


def register_figures_cli(app: Flask) -> None:
    app.cli.add_command(figures_cli)
