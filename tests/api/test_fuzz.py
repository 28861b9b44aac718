"""Fuzzing /api/v1 with schemathesis against the OpenAPI document the app serves.

In process through the WSGI app, deterministic (Hypothesis derandomized, no example database),
bounded (a few examples per operation: some 500 requests in all). As a liaison and as staff,
with data that fits the document (positive) and data that does not (negative), on generated
ids and on the ids of real resources; every schemathesis check applies: no 5xx, every status
and content type documented, every body valid against its response schema, schema-valid input
accepted, invalid input rejected, no answer without the bearer token."""

from __future__ import annotations

import contextvars
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy import select

from app.extensions import db
from app.plans.models import Assignment, Period
from app.reports import services as reports

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 4


def _isolated(app):
    """The app as a WSGI callable whose requests run in their own app context and database session
    (as tests.conftest.IsolatedClient does for the test client)."""

    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        db.session.rollback()
        return contextvars.Context().run(app, environ, start_response)

    return wsgi


@pytest.fixture
def resources(world) -> dict[str, Any]:
    """Real ids for the path parameters: lx-own's submitted report, and an editable period."""
    own = db.session.get(reports.User, world["users"]["liaison"])
    item = db.session.get(Assignment, world["item"])
    period = db.session.get(Period, world["period"])
    report = reports.save_report(item, period, own, reports.ReportInput("进展", "", "", {
        i.id: 5 for i in reports.indicators_for(item)}), None)
    reports.transition(report, "submit", own)
    db.session.commit()
    return {"ident": world["plan"], "task_id": world["task2"], "assignment_id": world["item"],
            "period_id": world["periods"][1], "report_id": report.id}


def _run(schema: Any, headers: dict[str, str], mode: GenerationMode, path_parameters: dict[str, Any] | None,
         statuses: Counter, failures: list[str]) -> None:
    for result in schema.get_all_operations():
        operation = result.ok()
        params = None
        if path_parameters is not None:
            names = {p.name for p in operation.path_parameters}
            if not names:
                continue
            params = {k: v for k, v in path_parameters.items() if k in names}
        _fuzz(operation, headers, mode, params, statuses, failures)


def _fuzz(operation: Any, headers: dict[str, str], mode: GenerationMode, params: dict[str, Any] | None,
          statuses: Counter, failures: list[str]) -> None:
    method = operation.method.upper()
    # The document cannot say which indicator keys a unit reports, whether a figure may be
    # negative or how many decimals it keeps: a schema-valid body may still be refused (400,
    # with a message per field), so that one check is off for the one write.
    excluded = [positive_data_acceptance] if method == "PUT" else None

    @settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=params))
    def check(case: Any) -> None:
        response = case.call_and_validate(headers=headers, excluded_checks=excluded)
        statuses[(method, operation.path, response.status_code)] += 1

    try:
        check()
    except (Exception, BaseExceptionGroup) as exc:  # schemathesis reports a group of failures
        failures.append(f"{mode.value} {method} {operation.path}{' (real ids)' if params else ''}:\n{exc}")


def test_fuzz_the_api_against_its_openapi_document(app, world, resources):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _isolated(app))
    statuses: Counter = Counter()
    failures: list[str] = []
    for role in ("liaison", "staff"):
        headers = {"Authorization": f"Bearer {world['tokens'][role]}"}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for path_parameters in (None, resources):
                _run(schema, headers, mode, path_parameters, statuses, failures)
    assert failures == [], "\n\n".join(failures)
    requests = sum(statuses.values())
    assert 200 <= requests <= 1000, requests
    assert not any(status >= 500 for _, _, status in statuses)
    # the fuzzing went past the front door: real resources were read, bad input refused
    assert statuses[("GET", "/api/v1/reports/{report_id}", 200)] > 0
    assert statuses[("GET", "/api/v1/assignments/{assignment_id}", 200)] > 0
    assert any(s == 400 for (_, path, s) in statuses if path == "/api/v1/assignments/{assignment_id}/reports/{period_id}")
    # what the fuzzer wrote went through the services: every report it made has its audit trail
    from app.audit.models import AuditEvent
    from app.reports.models import Report

    created = db.session.execute(select(Report.id)).scalars().all()
    audited = set(db.session.execute(select(AuditEvent.entity_id).where(AuditEvent.action == "report.create")).scalars())
    assert {str(i) for i in created} <= audited


def test_the_fuzzer_catches_an_answer_that_breaks_its_schema(app, world, monkeypatch):
    """Guard for the test above: were /me documented with a string id, the run would fail."""
    from app.api.schemas import openapi

    real = openapi.document

    def wrong() -> dict[str, Any]:
        doc = real()
        doc["components"]["schemas"]["Me"]["properties"]["id"] = {"type": "string"}
        return doc

    monkeypatch.setattr(openapi, "document", wrong)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _isolated(app)).include(path="/api/v1/me")
    statuses: Counter = Counter()
    failures: list[str] = []
    _run(schema, {"Authorization": f"Bearer {world['tokens']['staff']}"}, GenerationMode.POSITIVE, None,
         statuses, failures)
    assert len(failures) == 1 and "/api/v1/me" in failures[0] and "string" in failures[0]
