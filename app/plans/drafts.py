"""Drafting a plan from an issued document: upload, correct, import (the draft page and
`flask plan parse`).

The draft lives on the server (PlanDraft): the page posts corrections only, and they are applied
here to the stored YAML. Problems come back as `Problem(path, message)`, the path naming the
field of the draft they belong to — ("code",), ("tasks", 2, "units"), ("tasks", 2,
"indicators", 0, "target"), ("targets", 1, "due"), ("confirm", unit name) or () for the
whole draft — so a page can show each next to its field. Messages are Chinese.
"""

from __future__ import annotations

import hashlib
import io
import re
import secrets
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path, PurePath
from typing import Any

import yaml
from flask import current_app, has_app_context
from flask_babel import gettext
from sqlalchemy import or_, select
from sqlalchemy.exc import DataError, IntegrityError

from ..audit import services as audit
from ..auth.models import User
from ..extensions import db
from ..forms_common import parse_decimal
from ..i18n import N_
from ..units.models import Unit, UnitGroup
from .draft_models import PlanDraft
from .models import Plan
from .parsing import ParseResult, PlanParseError, draft_to_yaml, parse_document
from .parsing.reading import OLE_MAGIC, ZIP_MAGIC
from .parsing.tables import ALIASES_FILE
from .planfile import COMPARATORS, SLUG_RE, PlanFileError, load_plan_text

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_UNZIPPED_BYTES = 80 * 1024 * 1024  # a .docx expanding beyond this is refused (zip bomb)
DRAFT_FILE_NAME = "草稿.yaml"
MAX_LENGTHS = {"code": 60, "title": 200, "issuer": 100}
UNIT_NAME_MAX = 100
INDICATOR_NAME_MAX = 200
INDICATOR_UNIT_MAX = 30
GROUP_PREFIX_RE = re.compile(r"^单位组\s*[：:]\s*")
ROLE_SUFFIX_RE = re.compile(r"\s*[（(](牵头|配合)[）)]$")
DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")

FieldPath = tuple[str | int, ...]


class DraftInputError(ValueError):
    """The uploaded document cannot be drafted from; the message (Chinese) says why."""


@dataclass(frozen=True)
class Problem:
    path: FieldPath
    message: str


class DraftProblems(Exception):
    """The corrections cannot be saved or imported; nothing was written."""

    def __init__(self, problems: list[Problem], unconfirmed: list[str] | None = None) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems
        self.unconfirmed = unconfirmed or []


# --- what a person typed: plain data, built by the page from its form ------------------------

@dataclass
class IndicatorEdit:
    key: str = ""
    name: str = ""
    comparator: str = ">="
    target: str = ""
    unit: str = ""
    due: str = ""
    cumulative: bool = True
    delete: bool = False

    def is_blank(self) -> bool:
        return not (self.name.strip() or self.target.strip() or self.unit.strip() or self.due.strip())


@dataclass
class TaskEdit:
    title: str = ""
    units: str = ""
    indicators: list[IndicatorEdit] = field(default_factory=list)


@dataclass
class UnitDecision:
    name: str
    match: str = ""  # the name of a unit of the system this name stands for
    create: bool = False  # confirmed: a new unit under the name as written


@dataclass
class DraftEdits:
    slug: str = ""
    code: str = ""
    title: str = ""
    issuer: str = ""
    issued: str = ""
    targets: list[IndicatorEdit] = field(default_factory=list)
    tasks: list[TaskEdit] = field(default_factory=list)
    decisions: list[UnitDecision] = field(default_factory=list)
    confirm_all_new: bool = False


@dataclass
class AppliedEdits:
    data: dict[str, Any]
    confirmed_new: list[str]
    unconfirmed: list[str]  # names matching no unit of the system, after the edits
    problems: list[Problem]


# --- reading the document ---------------------------------------------------------------

def known_unit_names() -> list[str]:
    return list(db.session.execute(select(Unit.name).order_by(Unit.name)).scalars())


def known_group_names() -> set[str]:
    return set(db.session.execute(select(UnitGroup.name)).scalars())


def configured_aliases() -> dict[str, Any] | None:
    """The alias table of the configured workflows folder, when it is not the shipped one
    (the parser reads the shipped workflows/unit_aliases.yaml itself)."""
    if not has_app_context():
        return None
    path = Path(current_app.config["WORKFLOWS_DIR"]) / "unit_aliases.yaml"
    if not path.exists() or path.resolve() == ALIASES_FILE.resolve():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return data.get("aliases") or None


def check_upload(data: bytes, filename: str) -> None:
    """Refuse what is too large or is a ZIP but not a Word document, before parsing."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise DraftInputError(gettext("文件过大：上限为 %(n)s MB。", n=MAX_UPLOAD_BYTES // (1024 * 1024)))
    if data.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
                expanded = sum(info.file_size for info in archive.infolist())
        except (zipfile.BadZipFile, OSError, ValueError):
            raise DraftInputError(gettext("Word 文件已损坏或不是有效的 .docx 文件，无法打开。")) from None
        if "word/document.xml" not in names:
            raise DraftInputError(gettext("Word 文件已损坏或不是有效的 .docx 文件：压缩包中没有 word/document.xml。"
                                          "请上传 .docx 或 .txt 格式的方案原文。"))
        if expanded > MAX_UNZIPPED_BYTES:
            raise DraftInputError(gettext("Word 文件解压后过大，无法读取。"))
    elif data.startswith(OLE_MAGIC) or data.startswith(b"%PDF"):
        return  # the parser names these (password-protected or old .doc; PDF)


def parse_upload(data: bytes, filename: str, known_units: list[str] | None = None) -> ParseResult:
    check_upload(data, filename)
    try:
        return parse_document(data, filename=filename, known_units=known_units, aliases=configured_aliases())
    except PlanParseError as exc:
        raise DraftInputError(str(exc)) from None


def parse_file(path: str | Path, known_units: list[str] | None) -> ParseResult:
    """`flask plan parse`: PlanParseError (Chinese message) on a document without a plan."""
    return parse_document(path, known_units=known_units, aliases=configured_aliases())


def plan_file_problem(yaml_text: str) -> str | None:
    """Why a drafted plan file would not load with `flask plan import`, or None."""
    try:
        load_plan_text(yaml_text, DRAFT_FILE_NAME)
    except PlanFileError as exc:
        return str(exc)
    return None


# --- the draft on the server -------------------------------------------------------------

def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _clean_filename(filename: str | None) -> str:
    name = PurePath((filename or "").replace("\\", "/")).name.strip()
    name = re.sub(r"[\x00-\x1f]", "", name)
    return (name or "document")[:200]


def create_draft(user: User, filename: str | None, data: bytes) -> PlanDraft:
    """Parse an uploaded document and keep its draft for `user`; one audit event.
    Raises DraftInputError (nothing stored) when the document holds no plan."""
    filename = _clean_filename(filename)
    result = parse_upload(data, filename, known_units=known_unit_names())
    now = _now()
    draft = PlanDraft(
        token=secrets.token_hex(16), user_id=user.id, filename=filename, kind=result.kind,
        source_sha256=hashlib.sha256(data).hexdigest(), source_lines=result.lines,
        source_spans={str(n): [a, b] for n, (a, b) in result.source_spans.items()},
        warnings=result.warnings, confirmed_new=[], yaml_text=draft_to_yaml(result.draft), status="open",
        created_at=now, updated_at=now)
    db.session.add(draft)
    db.session.flush()
    audit.record("plan_draft.create", "plan_draft", draft.id,
                 {"status": [None, "open"], "code": [None, result.draft.get("code")]},
                 extra={"filename": filename, "sha256": draft.source_sha256, "tasks": len(result.draft["tasks"]),
                        "unconfirmed_units": len(result.unconfirmed_units)})
    db.session.commit()
    return draft


def get_draft(token: str, user: User) -> PlanDraft | None:
    """The user's own draft; another person's draft is not found, like one that does not exist."""
    if not re.fullmatch(r"[0-9a-f]{32}", token or ""):
        return None
    return db.session.execute(
        select(PlanDraft).where(PlanDraft.token == token, PlanDraft.user_id == user.id)).scalar_one_or_none()


def open_drafts(user: User, limit: int = 20) -> list[PlanDraft]:
    return list(db.session.execute(
        select(PlanDraft).where(PlanDraft.user_id == user.id, PlanDraft.status == "open")
        .order_by(PlanDraft.updated_at.desc()).limit(limit)).scalars())


def draft_data(draft: PlanDraft) -> dict[str, Any]:
    data = yaml.safe_load(draft.yaml_text)
    return data if isinstance(data, dict) else {}


def source_view(draft: PlanDraft) -> list[tuple[int, str, int | None]]:
    """(line number, text, task number or None) for every line of the document."""
    owner: dict[int, int] = {}
    for number, (first, last) in draft.source_spans.items():
        for line in range(int(first), int(last) + 1):
            owner.setdefault(line, int(number))
    return [(i, text, owner.get(i)) for i, text in enumerate(draft.source_lines, start=1)]


# --- the units of a task, as one text of one name per line ---------------------------------

def units_to_text(entries: list[Any]) -> str:
    """A task's units as lines: the first leads; 单位组： marks a group; （牵头）/（配合） a role
    other than the default of the position."""
    lines = []
    for i, entry in enumerate(entries or []):
        default = "lead" if i == 0 else "co"
        if isinstance(entry, dict):
            is_group = bool(entry.get("group"))
            name = str(entry.get("group") or entry.get("name") or "")
            role = entry.get("role", default)
        else:
            is_group, name, role = False, str(entry), default
        line = ("单位组：" if is_group else "") + name
        if role != default:
            line += "（牵头）" if role == "lead" else "（配合）"
        lines.append(line)
    return "\n".join(lines)


def units_from_text(text: str, groups: set[str]) -> tuple[list[tuple[str, str, bool]], list[str]]:
    """(name, role, is_group) per line, and problems (Chinese)."""
    entries: list[tuple[str, str, bool]] = []
    problems: list[str] = []
    for raw in (text or "").splitlines():
        line = raw.strip().strip("、，,；;").strip()
        if not line:
            continue
        is_group = bool(GROUP_PREFIX_RE.match(line))
        line = GROUP_PREFIX_RE.sub("", line)
        role = "lead" if not entries else "co"
        m = ROLE_SUFFIX_RE.search(line)
        if m:
            role = "lead" if m.group(1) == "牵头" else "co"
            line = line[:m.start()].strip()
        name = re.sub(r"\s+", "", line)
        if not name:
            continue
        is_group = is_group or name in groups
        if len(name) > UNIT_NAME_MAX:
            problems.append(gettext("单位名称“%(name)s…”超过 %(n)s 个字。", name=name[:20], n=UNIT_NAME_MAX))
            continue
        if any(e[0] == name for e in entries):
            problems.append(gettext("单位“%(name)s”填了两次。", name=name))
            continue
        entries.append((name, role, is_group))
    return entries, problems


def _unit_entries(entries: list[tuple[str, str, bool]]) -> list[Any]:
    out: list[Any] = []
    for i, (name, role, is_group) in enumerate(entries):
        default = "lead" if i == 0 else "co"
        if is_group:
            out.append({"group": name} if role == default else {"group": name, "role": role})
        else:
            out.append(name if role == default else {"name": name, "role": role})
    return out


def _entry_name(entry: Any) -> tuple[str, bool]:
    if isinstance(entry, dict):
        return str(entry.get("group") or entry.get("name") or ""), bool(entry.get("group"))
    return str(entry), False


def unconfirmed_names(data: dict[str, Any], known: set[str]) -> list[str]:
    """Unit names of the draft (tasks and implementing governments) that match no unit of the system."""
    names: list[str] = []
    for task in data.get("tasks") or []:
        for entry in task.get("units") or []:
            name, is_group = _entry_name(entry)
            if not is_group and name and name not in known and name not in names:
                names.append(name)
    for name in (data.get("implementing") or {}).get("units") or []:
        if name not in known and name not in names:
            names.append(str(name))
    return names


def _rename_unit(data: dict[str, Any], old: str, new: str) -> None:
    for task in data.get("tasks") or []:
        renamed, seen = [], set()
        for entry in task.get("units") or []:
            name, is_group = _entry_name(entry)
            if not is_group and name == old:
                entry = {**entry, "name": new} if isinstance(entry, dict) else new
                name = new
            if (name, is_group) in seen:
                continue
            seen.add((name, is_group))
            renamed.append(entry)
        task["units"] = renamed
        for ind in task.get("indicators") or []:
            ind["reported_by"] = [new if r == old else r for r in ind.get("reported_by") or []]
    implementing = data.get("implementing")
    if implementing and implementing.get("units"):
        implementing["units"] = list(dict.fromkeys(new if u == old else u for u in implementing["units"]))
    for target in data.get("targets") or []:
        target["reported_by"] = list(dict.fromkeys(new if r == old else r for r in target.get("reported_by") or []))


# --- applying the corrections ---------------------------------------------------------------

def parse_date_text(text: str) -> date:
    """'2025-02-13', '2025/2/13' or '2025年2月13日'; ValueError with a Chinese message."""
    m = DATE_RE.match(text.strip().translate(str.maketrans("０１２３４５６７８９", "0123456789")))
    if not m:
        raise ValueError(gettext("请按“2025-02-13”的格式填写日期。"))
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise ValueError(gettext("日期不存在，请核对年、月、日。")) from None


def _plain_number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(str(value))


def _indicators(rows: list[IndicatorEdit], old: list[dict[str, Any]], path: FieldPath, used_keys: set[str],
                key_prefix: str, new_reported_by: list[str] | None,
                problems: list[Problem]) -> list[dict[str, Any]]:
    by_key = {str(i.get("key")): i for i in old if isinstance(i, dict)}
    out: list[dict[str, Any]] = []
    for j, row in enumerate(rows):
        if row.delete or row.is_blank():
            continue
        where = (*path, j)
        key = row.key.strip()
        base = dict(by_key.get(key, {})) if key not in used_keys else {}  # a key posted twice: the second is new
        name = row.name.strip()
        if not name:
            problems.append(Problem((*where, "name"), gettext("请填写指标名称。")))
        elif len(name) > INDICATOR_NAME_MAX:
            problems.append(Problem((*where, "name"), gettext("不能超过 %(n)s 个字。", n=INDICATOR_NAME_MAX)))
        unit = row.unit.strip()
        if not unit:
            problems.append(Problem((*where, "unit"), gettext("请填写计量单位，如 万人、个、%。")))
        elif len(unit) > INDICATOR_UNIT_MAX:
            problems.append(Problem((*where, "unit"), gettext("不能超过 %(n)s 个字。", n=INDICATOR_UNIT_MAX)))
        if row.comparator not in COMPARATORS:
            problems.append(Problem((*where, "comparator"), gettext("请选择 ≥、≤ 或 ≈。")))
        target: Decimal | None = None
        try:
            target = parse_decimal(row.target, allow_negative=True, max_abs=Decimal(10**12))
            if target is None:
                problems.append(Problem((*where, "target"), gettext("请填写目标值。")))
        except ValueError as exc:
            problems.append(Problem((*where, "target"), str(exc)))
        due: date | None = None
        if row.due.strip():
            try:
                due = parse_date_text(row.due)
            except ValueError as exc:
                problems.append(Problem((*where, "due"), str(exc)))
        if not base:
            k = 1
            while f"{key_prefix}-{k}" in used_keys:
                k += 1
            base = {"key": f"{key_prefix}-{k}"}
            if new_reported_by:
                base["reported_by"] = list(new_reported_by)
        used_keys.add(base["key"])
        base.update(name=name, comparator=row.comparator, unit=unit, cumulative=bool(row.cumulative))
        if target is not None:
            base["target"] = _plain_number(target)
        if due is not None:
            base["due"] = due
        else:
            base.pop("due", None)
        out.append(base)
    return out


def apply_edits(data: dict[str, Any], edits: DraftEdits, known: set[str], groups: set[str]) -> AppliedEdits:
    """The stored draft with the person's corrections, and what is malformed (no database).

    `known`: names of the units of the system; `groups`: group names (of the draft and the system)."""
    import copy

    out = copy.deepcopy(data)
    problems: list[Problem] = []
    slug = edits.slug.strip()
    if slug and not SLUG_RE.match(slug):
        problems.append(Problem(("slug",), gettext("标识只能用小写英文字母、数字和“-”（2–59 个字符），如 nmg-2025-employment。")))
    out["id"] = slug
    out["code"] = re.sub(r"\s+", "", edits.code)
    out["title"] = edits.title.strip()
    out["issuer"] = edits.issuer.strip()
    for key, limit in MAX_LENGTHS.items():
        if len(out[key]) > limit:
            problems.append(Problem((key,), gettext("不能超过 %(n)s 个字。", n=limit)))
    old_issued = data.get("issued")
    issued: date | None = None
    if edits.issued.strip():
        try:
            issued = parse_date_text(edits.issued)
        except ValueError as exc:
            problems.append(Problem(("issued",), str(exc)))
            issued = old_issued if isinstance(old_issued, date) else None
    out["issued"] = issued
    reporting = out.get("reporting") if isinstance(out.get("reporting"), dict) else {}
    if issued and issued != old_issued and isinstance(reporting.get("end"), date) \
            and issued.replace(day=1) <= reporting["end"]:
        reporting["start"] = issued.replace(day=1)
    out["reporting"] = reporting

    tasks = out.get("tasks") or []
    if len(edits.tasks) != len(tasks):
        problems.append(Problem((), gettext("表单与草稿不一致（任务数不同），请重新打开草稿页面后再修改。")))
        return AppliedEdits(out, [], unconfirmed_names(out, known), problems)
    all_groups = set(groups) | {str(g.get("name") if isinstance(g, dict) else g) for g in out.get("groups") or []}
    used_keys: set[str] = set()
    implementing = bool((out.get("implementing") or {}).get("units"))
    for i, (task, edit) in enumerate(zip(tasks, edits.tasks, strict=True)):
        title = edit.title.strip()
        if not title:
            problems.append(Problem(("tasks", i, "title"), gettext("请填写任务标题。")))
        elif len(title) > 200:
            problems.append(Problem(("tasks", i, "title"), gettext("不能超过 %(n)s 个字。", n=200)))
        task["title"] = title
        entries, unit_problems = units_from_text(edit.units, all_groups)
        problems += [Problem(("tasks", i, "units"), m) for m in unit_problems]
        task["units"] = _unit_entries(entries)
        reporters = ["lead", "implementing"] if implementing else ["lead"]
        indicators = _indicators(edit.indicators, task.get("indicators") or [], ("tasks", i, "indicators"),
                                 used_keys, f"t{task.get('number')}", reporters, problems)
        if indicators:
            task["indicators"] = indicators
        else:
            task.pop("indicators", None)
    old_targets = out.get("targets") or []
    target_reporters = list(old_targets[0].get("reported_by") or []) if old_targets else None
    targets = _indicators(edits.targets, old_targets, ("targets",), used_keys, "plan", target_reporters, problems)
    if targets:
        out["targets"] = targets
    else:
        out.pop("targets", None)
    used_groups = list(dict.fromkeys(
        name for t in tasks for name, is_group in map(_entry_name, t["units"]) if is_group))
    if used_groups:
        out["groups"] = [{"name": g} for g in used_groups]
    else:
        out.pop("groups", None)

    # the person's decisions on names that match no unit of the system
    unconfirmed = unconfirmed_names(out, known)
    confirmed: list[str] = []
    for decision in edits.decisions:
        name = decision.name.strip()
        if name not in unconfirmed:
            continue
        match = re.sub(r"\s+", "", decision.match)
        if match:
            if match not in known:
                problems.append(Problem(("confirm", name), gettext("系统中没有名为“%(match)s”的单位，请从列表中选择，或留空后勾选新建。", match=match)))
                continue
            _rename_unit(out, name, match)
        elif decision.create or edits.confirm_all_new:
            confirmed.append(name)
    if edits.confirm_all_new:
        confirmed = list(dict.fromkeys([*confirmed, *unconfirmed]))
    unconfirmed = unconfirmed_names(out, known)
    confirmed = [n for n in confirmed if n in unconfirmed]
    return AppliedEdits(out, confirmed, unconfirmed, problems)


def readiness_problems(applied: AppliedEdits) -> list[Problem]:
    """What must be complete before the draft is imported (saving does not need it)."""
    data = applied.data
    problems: list[Problem] = []
    messages = {"slug": N_("请填写方案标识（id），如 nmg-2025-employment。"), "code": N_("请填写发文字号，如 内政发〔2025〕7号。"),
                "title": N_("请填写方案标题。"), "issuer": N_("请填写发文机关。")}
    for key, message in messages.items():
        if not data.get("id" if key == "slug" else key):
            problems.append(Problem((key,), gettext(message)))
    if not data.get("issued"):
        problems.append(Problem(("issued",), gettext("请填写成文日期。")))
    for i, task in enumerate(data.get("tasks") or []):
        if not task.get("units"):
            problems.append(Problem(("tasks", i, "units"), gettext("请至少填写一个责任单位（第一行为牵头单位）。")))
    for name in applied.unconfirmed:
        if name not in applied.confirmed_new:
            problems.append(Problem(("confirm", name),
                                    gettext("请确认单位“%(name)s”：选择对应的系统单位，或勾选“按原文新建”。", name=name)))
    if data.get("id") or data.get("code"):
        clash = db.session.execute(select(Plan).where(
            or_(Plan.slug == data.get("id"), Plan.code == data.get("code")))).scalars().first()
        if clash is not None:
            key = "slug" if clash.slug == data.get("id") else "code"
            message = (N_("已有方案“%(title)s”（%(slug)s，%(code)s）使用此标识。草稿只能导入新方案；"
                          "更新已导入的方案请用 flask plan import。") if key == "slug" else
                       N_("已有方案“%(title)s”（%(slug)s，%(code)s）使用此发文字号。草稿只能导入新方案；"
                          "更新已导入的方案请用 flask plan import。"))
            problems.append(Problem((key,), gettext(message, title=clash.title, slug=clash.slug, code=clash.code)))
    return problems


def path_at_line(yaml_text: str, line: int) -> FieldPath:
    """The path of keys and indexes of the deepest YAML node on `line` (1-based)."""
    try:
        node = yaml.compose(yaml_text)
    except yaml.YAMLError:
        return ()

    def last_line(n: yaml.Node) -> int:
        return n.end_mark.line if n.end_mark.column == 0 else n.end_mark.line + 1

    path: list[str | int] = []
    while True:
        if isinstance(node, yaml.MappingNode):
            found = next(((k, v) for k, v in node.value if k.start_mark.line + 1 <= line <= last_line(v)), None)
            if found is None:
                return tuple(path)
            path.append(found[0].value)
            node = found[1]
        elif isinstance(node, yaml.SequenceNode):
            found_i = next((i for i, v in enumerate(node.value) if v.start_mark.line + 1 <= line <= last_line(v)),
                           None)
            if found_i is None:
                return tuple(path)
            path.append(found_i)
            node = node.value[found_i]
        else:
            return tuple(path)


def _plan_file_problems(yaml_text: str, data: dict[str, Any]) -> list[Problem]:
    """Checks of `flask plan import` (planfile), Chinese prefix, the line of the draft file."""
    try:
        load_plan_text(yaml_text, DRAFT_FILE_NAME)
    except PlanFileError as exc:
        m = re.search(r", line (\d+):", str(exc))
        path = path_at_line(yaml_text, int(m.group(1))) if m else ()
        if len(path) >= 2 and path[0] == "tasks" and isinstance(path[1], int):
            tasks = data.get("tasks") or []
            if path[1] < len(tasks):
                return [Problem((), gettext("任务%(number)s：方案文件校验未通过（%(error)s）。",
                                            number=tasks[path[1]].get("number"), error=exc))]
        return [Problem((), gettext("方案文件校验未通过（%(error)s）。", error=exc))]
    return []


def save_draft(draft: PlanDraft, edits: DraftEdits) -> AppliedEdits:
    """Keep the corrections (incomplete is fine; malformed is not). Raises DraftProblems."""
    applied = apply_edits(draft_data(draft), edits, set(known_unit_names()), known_group_names())
    if applied.problems:
        raise DraftProblems(applied.problems, applied.unconfirmed)
    text = draft_to_yaml(applied.data)
    changes: dict[str, list[Any]] = {}
    if text != draft.yaml_text:
        changes["yaml_sha256"] = [hashlib.sha256(draft.yaml_text.encode()).hexdigest(),
                                  hashlib.sha256(text.encode()).hexdigest()]
    if applied.confirmed_new != list(draft.confirmed_new or []):
        changes["confirmed_new"] = [list(draft.confirmed_new or []), applied.confirmed_new]
    if changes:
        draft.yaml_text = text
        draft.confirmed_new = applied.confirmed_new
        draft.updated_at = _now()
        audit.record("plan_draft.update", "plan_draft", draft.id, changes)
        db.session.commit()
    return applied


def import_draft(draft: PlanDraft, edits: DraftEdits) -> Plan:
    """Apply the corrections, validate as `flask plan import` does and import, in one
    transaction. Raises DraftProblems and writes nothing when anything is wrong."""
    from .services import import_plan_data

    applied = apply_edits(draft_data(draft), edits, set(known_unit_names()), known_group_names())
    problems = applied.problems or readiness_problems(applied)
    text = draft_to_yaml(applied.data)
    if not problems:
        problems = _plan_file_problems(text, applied.data)
    if problems:
        raise DraftProblems(problems, applied.unconfirmed)
    parsed = load_plan_text(text, DRAFT_FILE_NAME)
    try:
        result = import_plan_data(parsed, hashlib.sha256(text.encode("utf-8")).hexdigest())
        draft.yaml_text = text
        draft.confirmed_new = applied.confirmed_new
        draft.status = "imported"
        draft.plan_id = result.plan.id
        draft.updated_at = _now()
        audit.record("plan_draft.import", "plan_draft", draft.id,
                     {"status": ["open", "imported"], "plan": [None, result.plan.slug]},
                     extra={"plan_id": result.plan.id, "new_units": applied.confirmed_new})
        db.session.commit()
    except IntegrityError:  # a plan with the same id or code imported at the same moment
        db.session.rollback()
        raise DraftProblems([Problem((), gettext("导入未完成：同一方案刚被他人导入，请刷新页面核对后再试。"))],
                            applied.unconfirmed) from None
    except DataError:  # a value longer than its column (e.g. a section title the page does not edit)
        db.session.rollback()
        raise DraftProblems([Problem((), gettext("导入未完成：草稿中有超长的内容（如部分标题）。请下载方案文件修改后，"
                                                 "用 flask plan import 导入。"))], applied.unconfirmed) from None
    except Exception:
        db.session.rollback()
        raise
    return result.plan


def discard_draft(draft: PlanDraft) -> None:
    draft.status = "discarded"
    draft.updated_at = _now()
    audit.record("plan_draft.discard", "plan_draft", draft.id, {"status": ["open", "discarded"]})
    db.session.commit()
