"""`flask integrity scan [--json]`: run every plausibility rule over every stated figure."""

from __future__ import annotations

import json

import click
from flask import Flask
from flask.cli import AppGroup

from ..extensions import db

integrity_cli = AppGroup("integrity", help="Plausibility checks (疑点) over the reported figures.")


@integrity_cli.command("scan")
@click.option("--json", "as_json", is_flag=True, help="Print the flags as JSON.")
@click.option("--dry-run", is_flag=True, help="Print the flags without storing new ones.")
def scan_command(as_json: bool, dry_run: bool) -> None:
    """Run all rules over all figures of submitted reports, print the flags and store the new ones
    (a flag already stored for the same rule, unit, indicator and period is not stored again)."""
    from .services import scan

    result = scan(store=not dry_run)
    if dry_run:
        db.session.rollback()
    else:
        db.session.commit()
    if as_json:
        click.echo(json.dumps({"figures": result.figures, "flags": [r.as_dict() for r in result.raised],
                               "new": len(result.new), "stored": not dry_run},
                              ensure_ascii=False, indent=2))
        return
    for item in result.raised:
        mark = "NEW " if item.new else "    "
        found = item.found
        click.echo(f"{mark}#{item.flag_id or '-'}\t{found.rule}\t{found.unit}\t{found.indicator}\t"
                   f"{found.period_end.isoformat()}\t{found.message_zh}")
    click.echo(f"{result.figures} figures, {len(result.raised)} flags, {len(result.new)} new")


def register_integrity_cli(app: Flask) -> None:
    app.cli.add_command(integrity_cli)
