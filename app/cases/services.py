"""Cases (核查 / 问责): open on suspect figures, ask the unit, attach documents, record findings and the
outcome, and export an evidence package whose hashes can be checked against the audit log.

One case concerns one unit. For each figure it records both people answerable (一案双查): who entered the
value in force (from the figure's revisions) and who reviewed and accepted the report (from its transitions).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import secrets
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from flask import abort, current_app
from flask_babel import gettext
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from ..audit import services as audit
from ..audit.models import AuditEvent, AuditHead
from ..auth.models import User
from ..extensions import db
from ..i18n import N_
from ..integrity.models import Flag
from ..plans.models import Assignment
from ..reports.models import Figure, FigureRestatement, FigureRevision, Report, ReportTransition
from .models import OUTCOMES, Case, CaseAttachment, CaseAuditLink, CaseFigure, CaseRequest

TITLE_MAX = 200
TEXT_MAX = 5000
ATTACHMENT_MAX_DEFAULT = 10 * 1024 * 1024  # below MAX_CONTENT_LENGTH (16 MB), so the message shows beside the field
PACKAGE_FORMAT = "policy-tracker-evidence/1"


class CaseError(Exception):
    """A case change that is not allowed; the message is for the user (Chinese)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class CaseConflict(CaseError):
    """Someone else changed the case first."""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _text(value: str | None, what: str, field: str, maximum: int = TEXT_MAX, required: bool = True) -> str | None:
    text = (value or "").strip() or None
    if required and not text:
        raise CaseError(gettext("请填写%(what)s。", what=gettext(what)), field)
    if text and len(text) > maximum:
        raise CaseError(gettext("%(what)s不能超过 %(n)s 个字。", what=gettext(what), n=maximum), field)
    return text


# --- access -------------------------------------------------------------------------------------------------


def scope_cases(query: Select, user: User) -> Select:
    """A liaison sees their own unit's cases (to answer them); office staff and auditors see all."""
    if user.sees_everything:
        return query
    if user.role == "liaison" and user.unit_id:
        return query.where(Case.unit_id == user.unit_id)
    return query.where(False)


def get_case_or_404(case_id: int, user: User) -> Case:
    case = db.session.get(Case, case_id)
    if case is None or not (user.sees_everything or (user.role == "liaison" and user.unit_id == case.unit_id)):
        abort(404)
    return case


def is_unit_user(user: User, case: Case) -> bool:
    return user.role == "liaison" and user.unit_id == case.unit_id


def may_attach(user: User, case: Case) -> bool:
    return case.state == "open" and (user.is_office or is_unit_user(user, case))


# --- one-case-two-checks: who entered, who accepted ------------------------------------------------------------


@dataclass
class Responsibility:
    """The people answerable for a figure's value in force."""

    entered_by: User | None
    entered_at: datetime | None
    accepted_by: User | None
    accepted_at: datetime | None


def responsibility(figure: Figure) -> Responsibility:
    """Who entered the value in force (the latest revision; a restatement's filer) and who last accepted
    the report (its latest 'accept' transition)."""
    revision = db.session.execute(
        select(FigureRevision).where(FigureRevision.figure_id == figure.id).order_by(FigureRevision.id.desc())
        .limit(1)).scalar_one_or_none()
    accepted = db.session.execute(
        select(ReportTransition).where(ReportTransition.report_id == figure.report_id,
                                       ReportTransition.action == "accept")
        .order_by(ReportTransition.id.desc()).limit(1)).scalar_one_or_none()
    return Responsibility(
        revision.user if revision else None, revision.entered_at if revision else None,
        accepted.user if accepted else None, accepted.at if accepted else None,
    )


# --- opening ------------------------------------------------------------------------------------------------


def _figures(figure_ids: list[int]) -> list[Figure]:
    if not figure_ids:
        return []
    rows = db.session.execute(
        select(Figure).where(Figure.id.in_(figure_ids)).options(
            joinedload(Figure.indicator), joinedload(Figure.report).joinedload(Report.period),
            joinedload(Figure.report).joinedload(Report.assignment).joinedload(Assignment.unit))
    ).scalars().all()
    return sorted(rows, key=lambda f: figure_ids.index(f.id))


def candidates(figure_ids: list[int], flag_ids: list[int]) -> tuple[list[Figure], dict[int, int]]:
    """The figures a new case would cover (those named and those of the flags named), and figure → flag."""
    flags = db.session.execute(select(Flag).where(Flag.id.in_(flag_ids))).scalars().all() if flag_ids else []
    by_figure = {f.figure_id: f.id for f in flags if f.figure_id is not None}
    ids = list(dict.fromkeys([*figure_ids, *by_figure]))
    return _figures(ids), by_figure


def open_case(user: User, title: str | None, basis: str | None, figure_ids: list[int],
              flag_ids: list[int] | None = None) -> Case:
    """Open a case on one or more figures of one unit; flags named bring their figures in."""
    if not user.is_office:
        raise CaseError(gettext("只有领导小组办公室可以立案核查。"))
    title_text = _text(title, N_("案件名称"), "title", TITLE_MAX)
    basis_text = _text(basis, N_("立案依据"), "basis")
    figures, flag_of = candidates(figure_ids, flag_ids or [])
    if not figures or len(figures) < len(set(figure_ids)):
        raise CaseError(gettext("请选择要核查的数值（所选数值不存在）。"), "figures")
    units = {f.report.assignment.unit_id for f in figures}
    if len(units) > 1:
        raise CaseError(gettext("一个案件只能核查同一单位的数值，请按单位分别立案。"), "figures")
    now = _now()
    case = Case(unit_id=units.pop(), title=title_text, basis=basis_text, state="open", opened_by_id=user.id,
                opened_at=now)
    db.session.add(case)
    db.session.flush()
    people = []
    for figure in figures:
        who = responsibility(figure)
        db.session.add(CaseFigure(case_id=case.id, figure_id=figure.id, flag_id=flag_of.get(figure.id),
                                  value=figure.value,
                                  entered_by_id=who.entered_by.id if who.entered_by else None,
                                  entered_at=who.entered_at,
                                  accepted_by_id=who.accepted_by.id if who.accepted_by else None,
                                  accepted_at=who.accepted_at))
        people.append({"figure": figure.id, "value": figure.value, "flag": flag_of.get(figure.id),
                       "entered_by": who.entered_by.username if who.entered_by else None,
                       "accepted_by": who.accepted_by.username if who.accepted_by else None})
    db.session.flush()
    audit.record("case.open", "case", case.id, {"state": [None, "open"], "title": [None, title_text]},
                 reason=basis_text, extra={"unit": figures[0].report.assignment.unit.name, "figures": people},
                 actor=audit.actor_of(user))
    return case


# --- the unit's explanation -----------------------------------------------------------------------------------


def _open(case: Case) -> None:
    if case.state != "open":
        raise CaseError(gettext("案件已办结，不能再修改。"))


def ask(case: Case, user: User, question: str | None) -> CaseRequest:
    """The office asks the unit for an explanation."""
    if not user.is_office:
        raise CaseError(gettext("只有领导小组办公室可以要求单位说明。"))
    _open(case)
    text = _text(question, N_("需说明的问题"), "question")
    request = CaseRequest(case_id=case.id, question=text, asked_by_id=user.id, asked_at=_now())
    db.session.add(request)
    db.session.flush()
    audit.record("case.ask", "case", case.id, {"request": [None, request.id]}, extra={"question": text},
                 actor=audit.actor_of(user))
    return request


def answer(case: Case, request: CaseRequest, user: User, text: str | None) -> CaseRequest:
    """The unit's liaison answers a question of its case (once; a later question asks again)."""
    if request.case_id != case.id:
        raise CaseError(gettext("该问题不属于本案件。"))
    if not is_unit_user(user, case):
        raise CaseError(gettext("只有被核查单位的联络员可以答复。"))
    _open(case)
    if request.answer is not None:
        raise CaseError(gettext("该问题已答复。"), "answer")
    reply = _text(text, N_("答复内容"), "answer")
    request.answer, request.answered_by_id, request.answered_at = reply, user.id, _now()
    db.session.flush()
    audit.record("case.answer", "case", case.id, {"answer": [None, reply]}, extra={"request": request.id},
                 actor=audit.actor_of(user))
    return request


# --- documents ----------------------------------------------------------------------------------------------


def attachments_dir() -> Path:
    configured = current_app.config.get("ATTACHMENTS_DIR")
    path = Path(configured) if configured else Path(current_app.instance_path) / "attachments"
    path.mkdir(parents=True, exist_ok=True)
    return path


def attachment_max_bytes() -> int:
    return int(current_app.config.get("CASE_ATTACHMENT_MAX_BYTES") or ATTACHMENT_MAX_DEFAULT)


def display_name(filename: str | None) -> str:
    """The uploaded name, for showing and as the download name only: no directories, no control
    characters, at most 200 characters."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip().lstrip(".")
    return name[-200:] or "附件"


def attach(case: Case, user: User, filename: str | None, data: bytes, description: str | None = None) -> CaseAttachment:
    """Store a document under instance/attachments/ by a random name and record its SHA-256."""
    if not may_attach(user, case):
        raise CaseError(gettext("案件已办结，或您无权上传附件。"))
    if not data:
        raise CaseError(gettext("文件是空的。"), "file")
    if len(data) > attachment_max_bytes():
        raise CaseError(gettext("文件过大（上限 %(n)s MB）。", n=attachment_max_bytes() // 1024 // 1024), "file")
    note = _text(description, N_("附件说明"), "description", 500, required=False)
    digest = hashlib.sha256(data).hexdigest()
    stored = secrets.token_hex(16)
    path = attachments_dir() / stored
    with open(path, "xb") as out:  # never overwrites; the name is ours, not the uploader's
        out.write(data)
    try:
        item = CaseAttachment(case_id=case.id, stored_name=stored, filename=display_name(filename), size=len(data),
                              sha256=digest, description=note, uploaded_by_id=user.id, uploaded_at=_now())
        db.session.add(item)
        db.session.flush()
        audit.record("case.attach", "case", case.id, {"attachment": [None, item.id]},
                     extra={"filename": item.filename, "size": item.size, "sha256": digest},
                     actor=audit.actor_of(user))
    except Exception:
        path.unlink(missing_ok=True)
        raise
    return item


def attachment_path(item: CaseAttachment) -> Path:
    if not re.fullmatch(r"[0-9a-f]{32}", item.stored_name):
        abort(404)
    return attachments_dir() / item.stored_name


# --- audit events that matter ---------------------------------------------------------------------------------


def link_event(case: Case, user: User, seq: int | None, note: str | None) -> CaseAuditLink:
    """Name one more audit event (by its number) as part of the case."""
    if not user.is_office:
        raise CaseError(gettext("只有领导小组办公室可以关联审计日志。"))
    _open(case)
    if seq is None or db.session.get(AuditEvent, seq) is None:
        raise CaseError(gettext("审计日志中没有该序号的记录。"), "seq")
    if any(link.audit_seq == seq for link in case.audit_links):
        raise CaseError(gettext("该记录已关联。"), "seq")
    text = _text(note, N_("说明"), "note", 500, required=False)
    link = CaseAuditLink(case_id=case.id, audit_seq=seq, note=text, added_by_id=user.id, added_at=_now())
    db.session.add(link)
    db.session.flush()
    audit.record("case.link", "case", case.id, {"audit_seq": [None, seq]}, reason=text, actor=audit.actor_of(user))
    return link


def related_events(case: Case, up_to: int | None = None) -> list[AuditEvent]:
    """The audit events of the case, its figures, their reports, restatements and flags, and those linked
    by hand, in chain order (one query on the entity index)."""
    figure_ids = [cf.figure_id for cf in case.figures]
    report_ids = list({cf.figure.report_id for cf in case.figures})
    flag_ids = db.session.execute(select(Flag.id).where(Flag.figure_id.in_(figure_ids))).scalars().all() \
        if figure_ids else []
    restatement_ids = db.session.execute(
        select(FigureRestatement.id).where(FigureRestatement.figure_id.in_(figure_ids))).scalars().all() \
        if figure_ids else []

    def entity(kind: str, ids: list[int]) -> Any:
        return and_(AuditEvent.entity_type == kind, AuditEvent.entity_id.in_([str(i) for i in ids]))

    conditions = [entity("case", [case.id])]
    for kind, ids in (("figure", figure_ids), ("report", report_ids), ("flag", flag_ids),
                      ("figure_restatement", restatement_ids)):
        if ids:
            conditions.append(entity(kind, ids))
    seqs = [link.audit_seq for link in case.audit_links]
    if seqs:
        conditions.append(AuditEvent.seq.in_(seqs))
    query = select(AuditEvent).where(or_(*conditions)).order_by(AuditEvent.seq)
    if up_to is not None:
        query = query.where(AuditEvent.seq <= up_to)
    return list(db.session.execute(query).scalars())


# --- findings and outcome ---------------------------------------------------------------------------------------


def close(case: Case, user: User, findings: str | None, outcome: str | None,
          expected_version: int | None = None) -> Case:
    """Record the findings and the outcome (cleared, corrected, accountability referred); the case closes."""
    if not user.is_office:
        raise CaseError(gettext("只有领导小组办公室可以办结案件。"))
    if expected_version is not None and case.version != expected_version:
        raise CaseConflict(gettext("该案件已被他人修改，请刷新页面后再操作。"))
    _open(case)
    text = _text(findings, N_("核查结论"), "findings")
    if outcome not in OUTCOMES:
        raise CaseError(gettext("请选择处理结果。"), "outcome")
    before = {"state": case.state, "findings": case.findings, "outcome": case.outcome}
    case.state, case.findings, case.outcome = "closed", text, outcome
    case.closed_by_id, case.closed_at = user.id, _now()
    audit.record("case.close", "case", case.id,
                 audit.diff(before, {"state": case.state, "findings": case.findings, "outcome": case.outcome}),
                 actor=audit.actor_of(user))
    db.session.flush()
    return case


# --- lists ----------------------------------------------------------------------------------------------------


def list_cases(user: User, state: str | None, page: int, per_page: int) -> tuple[list[Case], int]:
    query = scope_cases(select(Case), user)
    if state in ("open", "closed"):
        query = query.where(Case.state == state)
    total = db.session.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()
    rows = db.session.execute(
        query.options(joinedload(Case.unit), joinedload(Case.opened_by)).order_by(Case.id.desc())
        .limit(per_page).offset((max(page, 1) - 1) * per_page)).scalars().all()
    return list(rows), total


def cases_for_flag(flag_id: int, user: User) -> list[Case]:
    query = scope_cases(select(Case).join(CaseFigure, CaseFigure.case_id == Case.id)
                        .where(CaseFigure.flag_id == flag_id), user)
    return list(db.session.execute(query.order_by(Case.id)).scalars().unique())


def load_case(case: Case) -> Case:
    """The case with what its page shows, loaded in a few queries."""
    db.session.execute(
        select(Case).where(Case.id == case.id).options(
            selectinload(Case.figures).joinedload(CaseFigure.figure).joinedload(Figure.indicator),
            selectinload(Case.figures).joinedload(CaseFigure.figure).joinedload(Figure.report)
            .joinedload(Report.period),
            selectinload(Case.figures).joinedload(CaseFigure.entered_by),
            selectinload(Case.figures).joinedload(CaseFigure.accepted_by),
            selectinload(Case.figures).joinedload(CaseFigure.flag),
            selectinload(Case.requests), selectinload(Case.attachments), selectinload(Case.audit_links))
    ).scalars().one()
    return case


# --- the evidence package -------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat().replace("+00:00", "Z")
    return value


def _user(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.id, "username": user.username, "name": user.name, "role": user.role,
            "unit": user.unit.name if user.unit else None}


def figure_record(case_figure: CaseFigure) -> dict[str, Any]:
    """A figure's full history: every value, restatement, flag and move of its report."""
    figure = case_figure.figure
    report = figure.report
    flags = db.session.execute(select(Flag).where(Flag.figure_id == figure.id).order_by(Flag.id)).scalars().all()
    return {
        "figure_id": figure.id,
        "unit": report.assignment.unit.name,
        "indicator": {"key": figure.indicator.key, "name": figure.indicator.name, "unit": figure.indicator.unit},
        "period": report.period.label,
        "report": {"id": report.id, "state": report.state, "first_submitted_at": _plain(report.first_submitted_at)},
        "value_in_force": _plain(figure.value),
        "value_when_added_to_case": _plain(case_figure.value),
        "entered_by": _user(case_figure.entered_by), "entered_at": _plain(case_figure.entered_at),
        "accepted_by": _user(case_figure.accepted_by), "accepted_at": _plain(case_figure.accepted_at),
        "revisions": [
            {"id": r.id, "kind": r.kind, "value": _plain(r.value), "previous_value": _plain(r.previous_value),
             "reason": r.reason, "source": r.source, "by": _user(r.user), "at": _plain(r.at),
             "stated_at": _plain(r.stated_at), "approved_by": _user(r.approved_by)}
            for r in figure.revisions
        ],
        "restatements": [
            {"id": r.id, "state": r.state, "value": _plain(r.value), "previous_value": _plain(r.previous_value),
             "reason": r.reason, "requested_by": _user(r.requested_by), "requested_at": _plain(r.requested_at),
             "decided_by": _user(r.decided_by), "decided_at": _plain(r.decided_at), "note": r.decision_note}
            for r in figure.restatements
        ],
        "report_transitions": [
            {"action": t.action, "from": t.from_state, "to": t.to_state, "by": _user(t.user), "at": _plain(t.at),
             "reason": t.reason}
            for t in report.transitions
        ],
        "flags": [
            {"id": f.id, "rule": f.rule, "state": f.state, "message": f.message, "evidence": f.evidence,
             "explanation": f.explanation, "decision_note": f.decision_note}
            for f in flags
        ],
    }


def _case_record(case: Case) -> dict[str, Any]:
    return {
        "id": case.id, "title": case.title, "unit": case.unit.name, "state": case.state, "basis": case.basis,
        "opened_by": _user(case.opened_by), "opened_at": _plain(case.opened_at),
        "findings": case.findings, "outcome": case.outcome, "closed_by": _user(case.closed_by),
        "closed_at": _plain(case.closed_at),
        "requests": [
            {"id": r.id, "question": r.question, "asked_by": _user(r.asked_by), "asked_at": _plain(r.asked_at),
             "answer": r.answer, "answered_by": _user(r.answered_by), "answered_at": _plain(r.answered_at)}
            for r in case.requests
        ],
        "audit_links": [{"seq": link.audit_seq, "note": link.note} for link in case.audit_links],
    }


def _zip_name(item: CaseAttachment) -> str:
    safe = re.sub(r"[^\w.\-]+", "_", item.filename, flags=re.UNICODE).strip("._") or "file"
    return f"attachments/{item.id}-{safe[-120:]}"


def evidence_package(case: Case, user: User) -> tuple[bytes, str]:
    """A zip of the case: case.json, figures.json (full histories), audit_events.jsonl (the related
    events with their hashes, up to the head at export), attachments/ and manifest.json (every file's
    SHA-256, each attachment's recorded and present SHA-256, and the audit head). The export itself is
    audited, after the head it names."""
    if not user.sees_everything:
        raise CaseError(gettext("您无权导出证据包。"))
    head = db.session.execute(select(AuditHead).where(AuditHead.id == 1)).scalar_one_or_none()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, None)
    events = related_events(case, up_to=head_seq)
    files: dict[str, bytes] = {}
    files["case.json"] = json.dumps(_case_record(case), ensure_ascii=False, indent=2).encode("utf-8")
    files["figures.json"] = json.dumps([figure_record(cf) for cf in case.figures], ensure_ascii=False,
                                       indent=2, default=_plain).encode("utf-8")
    lines = []
    for event in events:
        lines.append(json.dumps({"seq": event.seq, "algorithm": event.algorithm, "prev_hash": event.prev_hash,
                                 "hash": event.hash, "content": json.loads(event.content)},
                                ensure_ascii=False, sort_keys=True))
    files["audit_events.jsonl"] = ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8")
    attachments = []
    for item in case.attachments:
        path = attachment_path(item)
        data = path.read_bytes() if path.exists() else b""
        present = hashlib.sha256(data).hexdigest() if path.exists() else None
        name = _zip_name(item)
        if path.exists():
            files[name] = data
        attachments.append({"id": item.id, "filename": item.filename, "path": name if path.exists() else None,
                            "size": item.size, "sha256": item.sha256, "sha256_present": present,
                            "intact": present == item.sha256, "uploaded_by": _user(item.uploaded_by),
                            "uploaded_at": _plain(item.uploaded_at)})
    exported_at = datetime.now(UTC)
    manifest = {
        "format": PACKAGE_FORMAT,
        "case": case.id,
        "exported_at": _plain(exported_at),
        "exported_by": _user(user),
        "audit_head": {"seq": head_seq, "hash": head_hash},
        "audit_events": {"count": len(events), "seqs": [e.seq for e in events]},
        "attachments": attachments,
        "files": [{"path": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
                  for name, data in files.items()],
        "how_to_check": ("Each line of audit_events.jsonl re-hashes to its hash: sha256 of the canonical JSON of "
                         "{seq, prev, content} (app/audit/chain.py). `flask audit verify --anchor HASH@SEQ` "
                         "with audit_head checks the live log still extends this export."),
    }
    manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", manifest_bytes)
        for name, data in files.items():
            archive.writestr(name, data)
    audit.record("case.export", "case", case.id, {},
                 extra={"manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(), "audit_head_seq": head_seq,
                        "audit_head_hash": head_hash, "events": len(events), "attachments": len(attachments)},
                 actor=audit.actor_of(user))
    db.session.flush()
    return buffer.getvalue(), f"case-{case.id}-evidence-{exported_at.strftime('%Y%m%d-%H%M%S')}.zip"
