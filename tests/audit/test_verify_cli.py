"""`flask audit verify` and `flask audit head` against a stored log, untouched and tampered with.

The tampering is done as an attacker with full database rights would: the append-only triggers are dropped
first, then rows are edited, deleted, swapped, forged, or cut off and the chain recomputed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import text

from app.audit import services as audit
from app.audit.chain import GENESIS_HASH, make_row
from app.extensions import db

N = 12


@pytest.fixture
def log(ctx) -> list[dict]:
    """N events written through the service, committed in three transactions."""
    for batch in range(3):
        for i in range(N // 3):
            n = batch * (N // 3) + i + 1
            audit.record("figure.set", "figure", n, {"value": [Decimal(n), Decimal(n) + Decimal("0.50")]},
                         reason=f"更正第{n}条：统计口径调整", actor=(7, "lx-甲", "呼和浩特市"))
        db.session.commit()
    return stored()


def stored() -> list[dict]:
    rows = db.session.execute(text("SELECT seq, prev_hash, hash, algorithm, content FROM audit_event ORDER BY seq"))
    return [dict(r._mapping) for r in rows]


@pytest.fixture
def attacker(app, log) -> Iterator[None]:
    """Drop the append-only triggers, as someone with full rights can; put them back afterwards."""
    db.session.rollback()  # the test's own session must hold no lock on the table
    engine = db.engine
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        if postgres:
            conn.execute(text("DROP TRIGGER audit_event_no_update ON audit_event"))
            conn.execute(text("DROP TRIGGER audit_event_no_truncate ON audit_event"))
            saved = []
        else:
            saved = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                      "AND tbl_name = 'audit_event'")).all()
            assert len(saved) == 2
            for name, _ in saved:
                conn.execute(text(f"DROP TRIGGER {name}"))
    yield
    db.session.rollback()
    with engine.begin() as conn:
        if postgres:
            conn.execute(text("CREATE TRIGGER audit_event_no_update BEFORE UPDATE OR DELETE ON audit_event "
                              "FOR EACH ROW EXECUTE FUNCTION audit_event_refuse()"))
            conn.execute(text("CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event "
                              "FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse()"))
            conn.execute(text("ALTER TABLE audit_event ENABLE ALWAYS TRIGGER audit_event_no_update"))
            conn.execute(text("ALTER TABLE audit_event ENABLE ALWAYS TRIGGER audit_event_no_truncate"))
        else:
            for _, sql in saved:
                conn.execute(text(sql))


def sql(statement: str, **params) -> None:
    db.session.rollback()
    with db.engine.begin() as conn:
        conn.execute(text(statement), params)


def verify(app, *args: str):
    db.session.rollback()
    result = app.test_cli_runner().invoke(args=["audit", "verify", *args])
    db.session.rollback()
    return result


def head(app) -> str:
    result = app.test_cli_runner().invoke(args=["audit", "head"])
    assert result.exit_code == 0, result.output
    return result.output.splitlines()[0]


def assert_names(result, seq: int) -> None:
    assert result.exit_code == 1, result.output
    assert f"BROKEN at event {seq}:" in result.output, result.output


# --- intact ---------------------------------------------------------------------------------------------------


def test_untouched_log_verifies_and_head_prints_the_anchor(app, log):
    anchor = head(app)
    assert anchor == f"{log[-1]['hash']}@{N}"
    result = app.test_cli_runner().invoke(args=["audit", "head"])
    assert result.output.splitlines()[1] == f"events: {N}"
    result = verify(app)
    assert result.exit_code == 0, result.output
    assert f"audit log intact: {N} events, head {anchor}" in result.output
    result = verify(app, "--anchor", anchor)
    assert result.exit_code == 0 and "extends the anchor" in result.output
    # an older anchor is extended too
    result = verify(app, "--anchor", f"{log[4]['hash']}@5")
    assert result.exit_code == 0, result.output


def test_empty_log_verifies(app, ctx):
    result = verify(app)
    assert result.exit_code == 0 and "0 events" in result.output
    assert head(app) == f"{GENESIS_HASH}@0"


def test_a_malformed_anchor_is_a_usage_error(app, log):
    result = verify(app, "--anchor", "abc@3")
    assert result.exit_code == 2 and "64 hex digits" in result.output


def test_an_anchor_of_another_log_fails(app, log):
    result = verify(app, "--anchor", f"{'ab' * 32}@5")
    assert_names(result, 5)
    assert "anchor" in result.output


# --- tampered -------------------------------------------------------------------------------------------------


def test_one_flipped_byte_of_content_is_found(app, log, attacker):
    content = log[6]["content"]
    assert "更正第7条" in content
    flipped = content.replace("更正第7条", "更正第8条", 1)  # one character (its last UTF-8 byte) differs
    assert len(flipped.encode()) == len(content.encode())
    sql("UPDATE audit_event SET content = :c WHERE seq = 7", c=flipped)
    result = verify(app)
    assert_names(result, 7)
    assert "does not match its content" in result.output
    assert "figure.set figure:7" in result.output  # the stored row is shown


def test_a_changed_search_column_alone_is_not_evidence_but_a_changed_value_is(app, log, attacker):
    # the decimal as entered is what is hashed: "1.50" -> "1.5" changes the bytes
    content = json.loads(log[0]["content"])
    assert content["changes"]["value"] == ["1", "1.50"]
    sql("UPDATE audit_event SET content = :c WHERE seq = 1", c=log[0]["content"].replace('"1.50"', '"1.5"'))
    assert_names(verify(app), 1)


def test_a_deleted_event_is_found(app, log, attacker):
    sql("DELETE FROM audit_event WHERE seq = 5")
    result = verify(app)
    assert_names(result, 5)
    assert "expected seq 5, found 6" in result.output


def test_two_swapped_events_are_found(app, log, attacker):
    # swap the contents, hashes and links of events 3 and 4 (their numbers stay in place)
    a, b = log[2], log[3]
    for target, source in ((3, b), (4, a)):
        sql("UPDATE audit_event SET content = :c, hash = :h, prev_hash = :p WHERE seq = :s",
            c=source["content"], h=source["hash"], p=source["prev_hash"], s=target)
    result = verify(app)
    assert_names(result, 3)


def test_renumbered_swap_is_found(app, log, attacker):
    # swap the numbers instead: event 9 becomes 10 and 10 becomes 9
    sql("UPDATE audit_event SET seq = -1 WHERE seq = 9")
    sql("UPDATE audit_event SET seq = 9 WHERE seq = 10")
    sql("UPDATE audit_event SET seq = 10 WHERE seq = -1")
    assert_names(verify(app), 9)


def test_a_forged_event_inserted_in_the_middle_is_found(app, log, attacker):
    # a well-formed forged event 6, chained to event 5, with the later events renumbered to make room
    for seq in range(N, 5, -1):
        sql("UPDATE audit_event SET seq = :n WHERE seq = :s", n=seq + 1, s=seq)
    forged = make_row(6, log[4]["hash"], {"action": "figure.set", "changes": {"value": ["9", "99"]}})
    sql("INSERT INTO audit_event (seq, at, action, content, algorithm, prev_hash, hash) "
        "VALUES (6, '2025-05-01 00:00:00', 'figure.set', :c, 'sha256', :p, :h)",
        c=forged.content, p=forged.prev_hash, h=forged.hash)
    result = verify(app)
    assert_names(result, 6)
    assert "inserted" in result.output


def test_a_forged_event_appended_is_found(app, log, attacker):
    sql("INSERT INTO audit_event (seq, at, action, content, algorithm, prev_hash, hash) "
        "VALUES (:s, '2025-05-01 00:00:00', 'figure.set', '{}', 'sha256', :p, :h)",
        s=N + 1, p=log[-1]["hash"], h="0" * 64)
    assert_names(verify(app), N + 1)


def test_deleting_the_newest_and_leaving_the_head_row_is_found(app, log, attacker):
    sql("DELETE FROM audit_event WHERE seq > 10")
    result = verify(app)
    assert_names(result, 11)
    assert "missing" in result.output


def test_deleting_the_newest_and_recomputing_is_caught_only_by_an_anchor(app, log, attacker):
    anchor = head(app)  # e.g. mailed to the office yesterday
    sql("DELETE FROM audit_event WHERE seq > 9")
    sql("UPDATE audit_head SET seq = 9, hash = :h WHERE id = 1", h=log[8]["hash"])
    assert verify(app).exit_code == 0  # the chain alone cannot tell
    result = verify(app, "--anchor", anchor)
    assert_names(result, 10)
    assert "missing" in result.output and "anchor" in result.output


def test_a_rewritten_and_rehashed_log_is_caught_only_by_an_anchor(app, log, attacker):
    anchor = head(app)
    prev = log[3]["hash"]
    for row in log[4:]:  # rewrite event 5, then recompute every hash after it
        content = json.loads(row["content"])
        if row["seq"] == 5:
            content["changes"]["value"][1] = "500"
        new = make_row(row["seq"], prev, content)
        sql("UPDATE audit_event SET content = :c, prev_hash = :p, hash = :h WHERE seq = :s",
            c=new.content, p=new.prev_hash, h=new.hash, s=row["seq"])
        prev = new.hash
    sql("UPDATE audit_head SET hash = :h WHERE id = 1", h=prev)
    assert verify(app).exit_code == 0
    result = verify(app, "--anchor", anchor)
    assert_names(result, N)
    assert "differs from the anchor" in result.output
    # an anchor from before the rewrite point still holds: the rewrite began after it
    assert verify(app, "--anchor", f"{log[3]['hash']}@4").exit_code == 0


def test_the_output_names_the_last_good_head(app, log, attacker):
    sql("DELETE FROM audit_event WHERE seq = 8")
    result = verify(app)
    match = re.search(r"the 7 events before it verify; the last good head is ([0-9a-f]{64})@7", result.output)
    assert match and match.group(1) == log[6]["hash"]
