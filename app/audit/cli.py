"""`flask audit verify [--anchor HASH@COUNT]` and `flask audit head`."""

from __future__ import annotations

import sys
import time

import click
from flask import Flask
from flask.cli import AppGroup

from ..timeutil import to_local

audit_cli = AppGroup("audit", help="The audit log: check the hash chain, print its head.")


def _parse_anchor(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, int] | None:
    from .chain import parse_anchor

    if value is None:
        return None
    try:
        return parse_anchor(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@audit_cli.command("verify")
@click.option("--anchor", callback=_parse_anchor, metavar="HASH@COUNT",
              help="A head published earlier (`flask audit head`, the daily mail): the log must still extend it.")
def verify_command(anchor: tuple[str, int] | None) -> None:
    """Recompute the whole chain. Exit 0 when intact (prints the count and the head), 1 naming the first bad
    event otherwise."""
    from .services import verify_log

    started = time.perf_counter()
    report = verify_log(anchor)
    elapsed = time.perf_counter() - started
    result = report.result
    if report.ok:
        line = f"audit log intact: {result.count} events, head {result.anchor}"
        if anchor is not None:
            line += f"; extends the anchor {anchor[0][:12]}…@{anchor[1]}"
        click.echo(line)
        click.echo(f"checked in {elapsed:.2f} s")
        return
    prefix = f"event {result.first_bad_seq}: "
    message = result.message[len(prefix):] if result.message.startswith(prefix) else result.message
    click.echo(f"audit log BROKEN at event {result.first_bad_seq}: {message}")
    bad = report.bad_event
    if bad is not None:
        at = to_local(bad.at)
        click.echo(f"  stored event {bad.seq}: {at:%Y-%m-%d %H:%M:%S %Z} {bad.action} "
                   f"{bad.entity_type or '-'}:{bad.entity_id or '-'} by {bad.username or '-'}")
    click.echo(f"the {result.count} events before it verify; the last good head is {result.anchor}")
    sys.exit(1)


@audit_cli.command("head")
def head_command() -> None:
    """Print the chain's head as HASH@COUNT (an anchor to publish), then the count."""
    from .services import current_head

    seq, digest = current_head()
    click.echo(f"{digest}@{seq}")
    click.echo(f"events: {seq}")


def register_audit_cli(app: Flask) -> None:
    app.cli.add_command(audit_cli)
