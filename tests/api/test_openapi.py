"""The OpenAPI document matches the routes: every /api/v1 route and method is documented, every
documented path and method exists, path parameters agree, and every reference resolves."""

from __future__ import annotations

import re
from typing import Any

import pytest

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def _routes(app) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
            out.setdefault(path, set()).update(m for m in rule.methods if m not in IGNORED_METHODS)
    return out


@pytest.fixture
def document(client) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")  # no token: the document is public
    assert response.status_code == 200 and response.is_json
    return response.json


def test_every_route_is_documented_and_every_documented_path_exists(app, document):
    documented = {path: {m.upper() for m in ops} for path, ops in document["paths"].items()}
    assert documented == _routes(app)
    assert document["openapi"].startswith("3.1")


def test_path_parameters_agree_with_the_routes(document):
    for path, operations in document["paths"].items():
        names = set(re.findall(r"{([a-z_]+)}", path))
        for method, op in operations.items():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == names, f"{method} {path}"
            assert len({op["operationId"]}) == 1


def test_every_operation_documents_its_answers(document):
    ids = set()
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            ids.add(op["operationId"])
            codes = set(op["responses"])
            assert any(c.startswith("2") for c in codes), f"{method} {path}"
            if op.get("security", document["security"]):
                assert {"400", "401"} <= codes, f"{method} {path}"
            if "{" in path:
                assert "404" in codes, f"{method} {path}"
    assert len(ids) == sum(len(ops) for ops in document["paths"].values())  # operation ids are unique


def test_every_reference_resolves(document):
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if ref is not None:
                target: Any = document
                for part in ref.removeprefix("#/").split("/"):
                    assert part in target, ref
                    target = target[part]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)


def test_report_states_in_the_document_come_from_the_workflow(app, document):
    from app.workflow import workflows

    with app.app_context():
        states = list(workflows().report.states)
    assert document["components"]["schemas"]["Report"]["properties"]["state"]["enum"] == states
