"""`flask demo load`: the real plan, accounts for every role, reports in every state and the leading
group's side (a scan, good practices, a published ranking, an issued brief); a second run adds nothing."""

from __future__ import annotations

import io
from datetime import date

from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth.models import User
from app.briefs.models import Brief, PracticeMark
from app.extensions import db
from app.integrity.models import Flag
from app.rankings.models import RankingPublication
from app.reports.models import Report


def _counts() -> dict[str, object]:
    def count(model) -> int:
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()

    states = dict(db.session.execute(select(Report.state, func.count()).group_by(Report.state)).all())
    return {"reports": count(Report), "states": states, "briefs": count(Brief), "rankings": count(RankingPublication),
            "marks": count(PracticeMark), "flags": count(Flag), "events": count(AuditEvent),
            "users": count(User)}


def test_demo_load_fills_every_side_and_is_idempotent(app):
    import docx

    from app.audit.services import verify_log
    from app.demo.services import load_demo

    with app.app_context():
        accounts = load_demo()
        roles = {role for _, _, role, _ in accounts}
        assert roles == {"staff", "admin", "auditor", "liaison"}
        first = _counts()
        assert {"draft", "submitted", "returned", "accepted"} <= set(first["states"])
        assert (first["briefs"], first["rankings"], first["marks"]) == (1, 1, 2)
        # steady demo figures: a few honest questions (leagues not adding up), not a flood
        assert 0 < first["flags"] <= 30
        brief = db.session.execute(select(Brief)).scalar_one()
        text = "\n".join(p.text for p in docx.Document(io.BytesIO(brief.docx)).paragraphs)
        assert brief.audit_hash in text or any(brief.audit_hash in cell.text for table in
                                               docx.Document(io.BytesIO(brief.docx)).tables
                                               for row in table.rows for cell in row.cells)
        assert verify_log().ok
        # the history is replayed around the due dates: most reports on time, the log in time order
        reporting = brief.content["reporting"]
        assert reporting["on_time"] > reporting["late"] > 0
        times = db.session.execute(select(AuditEvent.at).order_by(AuditEvent.seq)).scalars().all()
        assert times == sorted(times)
        assert brief.issued_at.date() < date.today()  # issued in the replayed past, after the history

        load_demo()
        assert _counts() == first
