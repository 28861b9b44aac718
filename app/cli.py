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

plan_cli = AppGroup("plan", help="Implementation plans: parse, import, list, show.")
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


@plan_cli.command("parse")
@click.argument("document", type=click.Path(dir_okay=False))
@click.option("--out", "out", type=click.Path(dir_okay=False), help="Write the plan file here (default: stdout).")
def plan_parse(document: str, out: str | None) -> None:
    """Draft a plan file from an issued document (.txt UTF-8/GB18030, or .docx).

    Unit names are matched with the units in the database and workflows/unit_aliases.yaml;
    warnings and unmatched names go to stderr. Exit 2 when the document holds no plan."""
    from sqlalchemy.exc import SQLAlchemyError

    from .plans.drafts import known_unit_names, parse_file, plan_file_problem
    from .plans.parsing import PlanParseError, draft_to_yaml

    try:
        known: list[str] | None = known_unit_names()
    except SQLAlchemyError:
        db.session.rollback()
        known = None
        click.echo("提示：无法读取数据库中的单位（尚未执行 flask db upgrade？），单位名称按原文保留。", err=True)
    try:
        result = parse_file(document, known)
    except PlanParseError as exc:
        click.echo(f"错误：{document}：{exc}", err=True)
        click.echo("未生成方案文件。", err=True)
        sys.exit(2)
    text = draft_to_yaml(result.draft)
    if out:
        try:
            with open(out, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as exc:
            click.echo(f"错误：无法写入 {out}：{exc.strerror or exc}", err=True)
            sys.exit(2)
    else:
        click.echo(text, nl=False)
    for warning in result.warnings:
        click.echo(f"提示：{warning}", err=True)
    if result.unconfirmed_units:
        click.echo(f"待确认单位（系统中没有，按原文保留，共 {len(result.unconfirmed_units)} 个）："
                   + "、".join(result.unconfirmed_units), err=True)
    problem = plan_file_problem(text)
    if problem:
        click.echo(f"注意：草稿还不能直接导入，请先修改：{problem}", err=True)
    tasks = result.draft["tasks"]
    indicators = sum(len(t.get("indicators") or []) for t in tasks) + len(result.draft.get("targets") or [])
    where = out or "标准输出"
    click.echo(f"已生成方案草稿 {result.draft['id']}（{result.draft['code'] or '无文号'}）：{len(tasks)} 项任务，"
               f"{indicators} 个指标，写入 {where}。请核对后用 flask plan import 导入。", err=True)


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
    from .demo.services import load_demo, relax_mfa_for_demo

    accounts = load_demo()
    click.echo("demo accounts (user name / password / role / unit):")
    for username, password, role, unit in accounts:
        click.echo(f"  {username:<10} {password:<12} {role:<8} {unit or ''}")
    note = relax_mfa_for_demo()
    if note:
        click.echo(note, err=True)


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
