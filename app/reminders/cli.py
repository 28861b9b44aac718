"""Commands for operators and cron: `flask reminders sweep`, `flask outbox send|list`,
`flask scheduler run`."""

from __future__ import annotations

import json
import sys
from datetime import date

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from ..extensions import db
from ..timeutil import today

reminders_cli = AppGroup("reminders", help="Deadlines and the escalation ladder: the daily sweep.")
outbox_cli = AppGroup("outbox", help="The outbox of notices: send, list.")
scheduler_cli = AppGroup("scheduler", help="The scheduler process (daily sweep, sender every minute).")


def _parse_day(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected YYYY-MM-DD, got {value!r}") from None


@reminders_cli.command("sweep")
@click.option("--today", "day", callback=_parse_day, help="Sweep as if today were this date (YYYY-MM-DD).")
@click.option("--dry-run", is_flag=True, help="Print what would be sent; write nothing.")
def sweep_command(day: date | None, dry_run: bool) -> None:
    """Take the ladder steps that fell due and write the digests to the outbox."""
    from .jobs import SWEEP, job_lock, record_result
    from .sender import new_token
    from .sweep import sweep

    day = day or today()
    if dry_run:
        result = sweep(day, dry_run=True)
        db.session.rollback()
    else:
        owner = new_token()
        with job_lock(SWEEP, owner) as acquired:
            if not acquired:
                click.echo("another process is sweeping now; try again later", err=True)
                sys.exit(1)
            result = sweep(day)
            db.session.commit()
            record_result(SWEEP, f"{day.isoformat()} (cli): steps {dict(result.taken)}, "
                                 f"notices {len(result.notices)}")
    verb = "would take" if dry_run else "took"
    steps = ", ".join(f"{k} {v}" for k, v in sorted(result.taken.items())) or "none"
    click.echo(f"{day.isoformat()}: {verb} steps: {steps}")
    click.echo(f"{'would send' if dry_run else 'queued'} {len(result.notices)} notices")
    for n in result.notices:
        click.echo(f"  {n['channel']:<7} {n['recipient']:<40} {n['kind']:<12} {n['items']} items")


@outbox_cli.command("send")
def outbox_send() -> None:
    """Deliver the pending notices that are due (mail, webhook)."""
    from .sender import send_pending

    report = send_pending()
    click.echo(str(report))
    for error in report.errors[:20]:
        click.echo(f"  {error}", err=True)


@outbox_cli.command("list")
@click.option("--status", type=click.Choice(["pending", "sent", "failed"]), help="Only notices in this state.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
def outbox_list(status: str | None, limit: int, as_json: bool) -> None:
    """List the notices in the outbox, newest first."""
    from .models import Notice

    query = select(Notice).order_by(Notice.id.desc()).limit(limit)
    if status:
        query = query.where(Notice.status == status)
    rows = db.session.execute(query).scalars().all()
    if as_json:
        click.echo(json.dumps([{
            "id": n.id, "channel": n.channel, "recipient": n.recipient, "day": n.day.isoformat(), "kind": n.kind,
            "status": n.status, "attempts": n.attempts, "subject": n.subject, "items": n.items.get("total", 0),
            "next_attempt_at": n.next_attempt_at.isoformat() if n.next_attempt_at else None,
            "sent_at": n.sent_at.isoformat() if n.sent_at else None, "last_error": n.last_error,
            "message_id": n.message_id} for n in rows], ensure_ascii=False, indent=2))
        return
    for n in rows:
        error = f"  {n.last_error}" if n.last_error and n.status != "sent" else ""
        click.echo(f"{n.id:>7} {n.status:<8} {n.channel:<7} {n.day.isoformat()} {n.kind:<12} "
                   f"{n.recipient:<40} attempts {n.attempts}{error}")


@scheduler_cli.command("run")
def scheduler_run() -> None:
    """Run the scheduler in this process (daily sweep at SWEEP_TIME, sender every minute)."""
    import logging

    from .jobs import run_scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_scheduler(current_app._get_current_object())  # type: ignore[attr-defined]


def register_reminders_cli(app: Flask) -> None:
    for group in (reminders_cli, outbox_cli, scheduler_cli):
        app.cli.add_command(group)
