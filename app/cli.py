"""Command-line interface: `flask plan …`, `flask demo load`, `flask dev synth`."""

from __future__ import annotations

import json
import sys

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from .extensions import db
from .workflow import WorkflowFileError

plan_cli = AppGroup("plan", help="Implementation plans: import, list, show.")
demo_cli = AppGroup("demo", help="Demo data.")
dev_cli = AppGroup("dev", help="Developer tools (synthetic data).")


@plan_cli.command("import")
@click.argument("path", type=click.Path(dir_okay=False))
def plan_import(path: str) -> None:
    """Load a plan file (workflows/plans/*.yaml); idempotent."""
    from .plans.services import import_plan_file

    try:
        result = import_plan_file(path)
    except FileNotFoundError:
        click.echo(f"error: {path}: no such file", err=True)
        sys.exit(2)
    except (WorkflowFileError, ValueError) as exc:
        click.echo(f"error: {exc}", err=True)
        click.echo("nothing was imported.", err=True)
        sys.exit(2)
    plan = result.plan
    if result.created:
        click.echo(f"imported {plan.slug} ({plan.code}): {len(plan.tasks)} tasks")
    elif result.changes:
        click.echo(f"updated {plan.slug} ({plan.code}): {len(result.changes)} changes")
        for change in result.changes:
            click.echo(f"  - {change}")
    else:
        click.echo(f"unchanged {plan.slug} ({plan.code})")


@plan_cli.command("list")
def plan_list() -> None:
    from .plans.models import Plan

    for plan in db.session.execute(select(Plan).order_by(Plan.id)).scalars():
        click.echo(f"{plan.slug}\t{plan.code}\t{plan.title}\t{len(plan.tasks)} tasks")


@plan_cli.command("show")
@click.argument("ident")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
def plan_show(ident: str, as_json: bool) -> None:
    """Show a plan by its short id or document code."""
    from .plans.services import find_plan, plan_as_dict

    plan = find_plan(ident)
    if plan is None:
        click.echo(f"error: no plan {ident!r}", err=True)
        sys.exit(1)
    data = plan_as_dict(plan)
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(f"{data['id']}  {data['code']}  {data['title']}")
    for t in data["tasks"]:
        lead = next((u["name"] for u in t["units"] if u["role"] == "lead"), "")
        click.echo(f"  {t['number']:>2}. {t['title']}  [{lead}]  {len(t['units'])} units, {len(t['indicators'])} indicators")


@demo_cli.command("load")
def demo_load() -> None:
    """Load the plans under workflows/plans and the demo accounts and reports (idempotent)."""
    from .demo.services import load_demo

    accounts = load_demo()
    click.echo("demo accounts (user name / password / role / unit):")
    for username, password, role, unit in accounts:
        click.echo(f"  {username:<10} {password:<12} {role:<8} {unit or ''}")


@dev_cli.command("synth")
@click.option("--plans", default=300, show_default=True)
@click.option("--tasks", default=20, show_default=True)
@click.option("--units", default=3000, show_default=True)
@click.option("--units-per-task", default=17, show_default=True)
@click.option("--months", default=12, show_default=True)
@click.option("--report-share", default=0.85, show_default=True, help="share of assignment-months reported")
def dev_synth(plans: int, tasks: int, units: int, units_per_task: int, months: int, report_share: float) -> None:
    """Generate national-scale synthetic data (bulk inserts, no audit events)."""
    from .demo.synth import synthesize

    stats = synthesize(plans=plans, tasks=tasks, units=units, units_per_task=units_per_task, months=months,
                       report_share=report_share, echo=click.echo)
    click.echo(json.dumps(stats))


def register_cli(app: Flask) -> None:
    for group in (plan_cli, demo_cli, dev_cli):
        app.cli.add_command(group)
