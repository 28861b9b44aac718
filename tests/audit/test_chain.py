"""The audit hash chain: fixed vectors, canonical form, and the tampering verify must find."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from types import MappingProxyType

import pytest

from app.audit.chain import (
    ALGORITHMS,
    GENESIS_HASH,
    ChainRow,
    canonical_json,
    compute_hash,
    envelope,
    make_row,
    parse_anchor,
    verify_chain,
)

BEIJING = timezone(timedelta(hours=8))

# --- fixed vectors -------------------------------------------------------------------------------------------
# Computed once and checked in: if one of these changes, every stored audit log stops verifying. The
# digests were cross-checked with `printf '<envelope>' | sha256sum`.

VECTORS = [
    pytest.param(
        {
            "action": "report.submit",
            "unit": "呼和浩特市",
            "note": "2025 年城镇新增就业 18 万人以上，“稳就业”",
        },
        '{"action":"report.submit","note":"2025 年城镇新增就业 18 万人以上，“稳就业”","unit":"呼和浩特市"}',
        "002c22ed2ca9b2d34f38fe46bea902d31d747ac31d1a59e3c8407bc1503883ce",
        id="chinese",
    ),
    pytest.param(
        {
            "target": Decimal("18.0"),
            "rate": Decimal("5.5"),
            "ratio": Decimal("1.50"),
            "big": Decimal("1E+3"),
            "small": Decimal("-0.010"),
        },
        '{"big":"1000","rate":"5.5","ratio":"1.50","small":"-0.010","target":"18.0"}',
        "fd5c39f2a02f3d964abdca4e8741b7e232350a6c76485fc2c863c628bf936139",
        id="decimals",
    ),
    pytest.param(
        {
            "at": datetime(2025, 5, 3, 9, 12, 33, 120000, tzinfo=UTC),
            "entered_at": datetime(2025, 6, 1, 7, 30, tzinfo=BEIJING),
            "period_end": date(2025, 5, 31),
        },
        '{"at":"2025-05-03T09:12:33.120000Z","entered_at":"2025-05-31T23:30:00Z","period_end":"2025-05-31"}',
        "713a90893c588d0f009cc08356e3727036044a6ead5492dddd90de8839c721c5",
        id="datetimes",
    ),
    pytest.param(
        {
            "entity": {"type": "Figure", "id": "42"},
            "changes": {
                "value": {"before": Decimal("8.2"), "after": Decimal("9.10")},
                "status": {"before": "draft", "after": "submitted"},
                "checked": {"before": False, "after": True},
                "note": {"before": None, "after": "已核实"},
            },
            "z": [3, -7, 0],
            "a": 1,
        },
        '{"a":1,"changes":{"checked":{"after":true,"before":false},"note":{"after":"已核实","before":null},'
        '"status":{"after":"submitted","before":"draft"},"value":{"after":"9.10","before":"8.2"}},'
        '"entity":{"id":"42","type":"Figure"},"z":[3,-7,0]}',
        "09f9040daef7a13961f1ada74614b926bfa16aea3facdd6ecbcbfa27afa50919",
        id="nested-before-after",
    ),
]


def _vector_chain() -> list[tuple[dict, str, str]]:
    return [tuple(p.values) for p in VECTORS]


@pytest.mark.parametrize(("content", "expected_json", "_digest"), VECTORS)
def test_canonical_bytes_fixed_vectors(content, expected_json, _digest):
    assert canonical_json(content) == expected_json.encode("utf-8")


def test_hash_fixed_vectors_chained():
    """The four vectors as events 1..4 of one chain, each linked to the one before."""
    prev = GENESIS_HASH
    for seq, (content, _json, digest) in enumerate(_vector_chain(), start=1):
        assert compute_hash(seq, prev, content) == digest
        prev = digest


def test_genesis():
    assert GENESIS_HASH == "0" * 64
    expected = b'{"content":{},"prev":"' + b"0" * 64 + b'","seq":1}'
    assert envelope(1, GENESIS_HASH, canonical_json({})) == expected
    assert (
        compute_hash(1, GENESIS_HASH, {})
        == "f8dc4a5381cf1f86aa039900acafb094dcab44bce16ba059466eb6f796b15672"
    )
    assert hashlib.sha256(expected).hexdigest() == compute_hash(1, GENESIS_HASH, {})


@pytest.mark.parametrize(("content", "_json", "_digest"), VECTORS)
def test_envelope_is_canonical_json_of_seq_prev_content(content, _json, _digest):
    prev = "ab" * 32
    structure = {"seq": 7, "prev": prev, "content": content}
    assert envelope(7, prev, canonical_json(content)) == canonical_json(structure)
    assert compute_hash(7, prev, content) == hashlib.sha256(canonical_json(structure)).hexdigest()


# --- canonical form ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("1.50"), '"1.50"'),
        (Decimal("18.0"), '"18.0"'),
        (Decimal("18"), '"18"'),
        (Decimal("5.5"), '"5.5"'),
        (Decimal("1E+3"), '"1000"'),
        (Decimal("1.0E+3"), '"1000"'),
        (Decimal("1E-7"), '"0.0000001"'),
        (Decimal("-0.010"), '"-0.010"'),
        (Decimal("0.00"), '"0.00"'),
        (datetime(2025, 5, 3, 9, 0, tzinfo=UTC), '"2025-05-03T09:00:00Z"'),
        (datetime(2025, 5, 3, 9, 0, 0, 1, tzinfo=UTC), '"2025-05-03T09:00:00.000001Z"'),
        (datetime(2025, 1, 1, 7, 59, 59, tzinfo=BEIJING), '"2024-12-31T23:59:59Z"'),
        (datetime(2025, 5, 3, 20, 0, tzinfo=timezone(timedelta(hours=-5))), '"2025-05-04T01:00:00Z"'),
        (date(2025, 2, 13), '"2025-02-13"'),
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-12345678901234567890, "-12345678901234567890"),
        ("内政发〔2025〕7号", '"内政发〔2025〕7号"'),
        ('quote " backslash \\ newline \n', '"quote \\" backslash \\\\ newline \\n"'),
        ([], "[]"),
        ((1, "二"), '[1,"二"]'),
        ({}, "{}"),
    ],
)
def test_canonical_values(value, expected):
    assert canonical_json({"v": value}) == ('{"v":' + expected + "}").encode("utf-8")


def test_keys_sorted_at_every_level_without_whitespace():
    content = {"b": {"y": 1, "x": [{"d": 1, "c": 2}]}, "a": 0}
    assert canonical_json(content) == b'{"a":0,"b":{"x":[{"c":2,"d":1}],"y":1}}'


def test_key_order_of_input_does_not_matter():
    assert canonical_json({"a": 1, "b": 2}) == canonical_json({"b": 2, "a": 1})


def test_other_mappings_serialise_like_dicts():
    assert (
        canonical_json(MappingProxyType({"b": MappingProxyType({"y": 1}), "a": 2})) == b'{"a":2,"b":{"y":1}}'
    )


@pytest.mark.parametrize(("content", "_json", "_digest"), VECTORS)
def test_stored_text_parsed_back_serialises_to_the_same_bytes(content, _json, _digest):
    """What the database gives back (json.loads of the stored text) re-hashes to the stored hash."""
    stored = canonical_json(content)
    assert canonical_json(json.loads(stored)) == stored


@pytest.mark.parametrize(
    ("content", "error", "words"),
    [
        ({"v": 1.5}, TypeError, "float"),
        ({"v": 1.0}, TypeError, "float"),
        ({"a": {"b": [1, 2.5]}}, TypeError, "float"),
        ({"v": float("nan")}, TypeError, "float"),
        ({"v": {1, 2}}, TypeError, "set"),
        ({"v": frozenset()}, TypeError, "set"),
        ({1: "x"}, TypeError, "key"),
        ({"a": {None: "x"}}, TypeError, "key"),
        ({"v": b"bytes"}, TypeError, "bytes"),
        ({"v": object()}, TypeError, "object"),
        ({"v": datetime(2025, 5, 3, 9, 0)}, ValueError, "naive"),
        ({"a": [{"at": datetime(2025, 5, 3)}]}, ValueError, "naive"),
        ({"v": Decimal("NaN")}, ValueError, "finite"),
        ({"v": Decimal("Infinity")}, ValueError, "finite"),
        ([1, 2], TypeError, "mapping"),
    ],
)
def test_canonical_rejects(content, error, words):
    with pytest.raises(error, match=words):
        canonical_json(content)


def test_circular_content_is_rejected_not_looped():
    content: dict = {"a": []}
    content["a"].append(content)
    with pytest.raises(ValueError, match=r"[Cc]ircular"):
        canonical_json(content)


def test_shared_sub_objects_are_fine():
    shared = {"x": Decimal("1.0")}
    assert canonical_json({"a": shared, "b": [shared]}) == b'{"a":{"x":"1.0"},"b":[{"x":"1.0"}]}'


# --- compute_hash and make_row ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seq", "prev", "algorithm", "words"),
    [
        (0, GENESIS_HASH, "sha256", "seq"),
        (True, GENESIS_HASH, "sha256", "seq"),
        (1, "XYZ", "sha256", "prev_hash"),
        (1, "AB" * 32, "sha256", "prev_hash"),
        (1, GENESIS_HASH, "md5", "unknown hash algorithm 'md5'"),
    ],
)
def test_compute_hash_rejects(seq, prev, algorithm, words):
    with pytest.raises(ValueError, match=words):
        compute_hash(seq, prev, {}, algorithm)


def test_make_row_stores_canonical_text_and_its_hash():
    content, expected_json, digest = _vector_chain()[0]
    row = make_row(1, GENESIS_HASH, content)
    assert row == ChainRow(1, GENESIS_HASH, digest, "sha256", expected_json)


def test_registry_has_sha256():
    assert ALGORITHMS["sha256"](b"abc") == hashlib.sha256(b"abc").hexdigest()


# --- verify_chain ------------------------------------------------------------------------------------------------


def event_content(i: int) -> dict:
    return {
        "at": datetime(2025, 5, 1, 8, 0, tzinfo=BEIJING) + timedelta(minutes=i, microseconds=i * 37),
        "user": f"liaison{i}",
        "unit": ["呼和浩特市", "包头市", "兴安盟"][i % 3],
        "action": "figure.update",
        "entity": {"type": "Figure", "id": str(100 + i)},
        "changes": {"value": [Decimal(i) / 10, Decimal(i) / 10 + Decimal("0.50")], "note": [None, "已核实"]},
    }


def build(n: int, first: int = 1, prev: str = GENESIS_HASH) -> list[ChainRow]:
    rows = []
    for seq in range(first, first + n):
        row = make_row(seq, prev, event_content(seq))
        rows.append(row)
        prev = row.hash
    return rows


def rechain(rows: list[ChainRow]) -> list[ChainRow]:
    """What someone with write access and this code can do: renumber and re-hash everything."""
    out: list[ChainRow] = []
    prev = GENESIS_HASH
    for seq, row in enumerate(rows, start=1):
        new = make_row(seq, prev, json.loads(row.content))
        out.append(new)
        prev = new.hash
    return out


CHAIN = build(20)


def test_untouched_chain_verifies():
    result = verify_chain(CHAIN)
    assert result.ok
    assert (result.count, result.head_hash, result.first_bad_seq) == (20, CHAIN[-1].hash, None)
    assert result.anchor == f"{CHAIN[-1].hash}@20"
    assert result.message.startswith("chain intact: 20 events")


def test_empty_log_verifies_to_genesis():
    result = verify_chain([])
    assert (result.ok, result.count, result.head_hash, result.first_bad_seq) == (True, 0, GENESIS_HASH, None)


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param(lambda r: r.content, id="text"),
        pytest.param(lambda r: r.content.encode("utf-8"), id="bytes"),
        pytest.param(lambda r: json.loads(r.content), id="mapping-from-json-column"),
    ],
)
def test_untouched_chain_verifies_whatever_the_content_shape(shape):
    rows = [dataclasses.replace(r, content=shape(r)) for r in CHAIN]
    assert verify_chain(rows).ok


def test_rows_can_be_any_object_with_the_attributes():
    class AuditEventLike:
        def __init__(self, row: ChainRow) -> None:
            self.seq, self.prev_hash, self.hash = row.seq, row.prev_hash, row.hash
            self.algorithm, self.content = row.algorithm, row.content

    assert verify_chain(AuditEventLike(r) for r in CHAIN).ok


def _replace_content(rows: list[ChainRow], seq: int, content) -> list[ChainRow]:
    rows = list(rows)
    rows[seq - 1] = dataclasses.replace(rows[seq - 1], content=content)
    return rows


def _flip_byte(text: str, at: int) -> bytes:
    data = bytearray(text.encode("utf-8"))
    data[at] ^= 0x01
    return bytes(data)


def _with_seq(row: ChainRow, seq: int) -> ChainRow:
    return dataclasses.replace(row, seq=seq)


def _forged(seq: int, prev: str) -> ChainRow:
    return make_row(seq, prev, {"action": "figure.update", "note": "伪造的记录", "value": Decimal("99.9")})


def _tampered_cases():
    c = CHAIN
    text7 = c[6].content
    number_at = text7.index('"0.7"') + 1  # the "before" value of event 7
    yield pytest.param(
        _replace_content(c, 7, _flip_byte(text7, number_at)),
        7,
        "does not match its content",
        id="flip-one-byte-of-stored-text",
    )
    yield pytest.param(
        _replace_content(c, 7, _flip_byte(text7, text7.index("已核实") + 1)),
        7,
        "does not match its content",
        id="flip-one-byte-inside-chinese",
    )
    mapping = json.loads(text7)
    mapping["changes"]["value"][1] = "1.30"
    yield pytest.param(
        _replace_content(c, 7, mapping), 7, "does not match its content", id="edit-value-in-json-column"
    )
    mapping = json.loads(text7)
    mapping["changes"]["value"][0] = 0.7
    yield pytest.param(
        _replace_content(c, 7, mapping), 7, "does not match its content", id="float-in-json-column"
    )
    mapping = json.loads(text7)
    mapping["extra"] = {1, 2}
    yield pytest.param(
        _replace_content(c, 7, mapping), 7, "cannot be serialised", id="unserialisable-content"
    )
    cyclic = json.loads(text7)
    cyclic["changes"]["self"] = cyclic
    yield pytest.param(_replace_content(c, 7, cyclic), 7, "cannot be serialised", id="cyclic-content")
    yield pytest.param(c[:16] + c[17:], 17, "expected seq 17, found 18", id="delete-event-17")
    yield pytest.param(
        c[:16] + [_with_seq(r, r.seq - 1) for r in c[17:]],
        17,
        "does not match the hash",
        id="delete-event-17-and-renumber",
    )
    yield pytest.param(
        [*c[:16], c[17], c[16], *c[18:]], 17, "expected seq 17, found 18", id="swap-17-18-in-order"
    )
    yield pytest.param(
        [*c[:16], _with_seq(c[17], 17), _with_seq(c[16], 18), *c[18:]],
        17,
        "does not match the hash",
        id="swap-17-18-seq-numbers",
    )
    yield pytest.param(
        c[:10] + [_forged(11, c[9].hash)] + [_with_seq(r, r.seq + 1) for r in c[10:]],
        11,
        "event 11: inserted; event 12 links to event 10",
        id="insert-forged-event-11",
    )
    yield pytest.param(
        [*c[:10], _forged(11, c[9].hash), *c[10:]],
        12,
        "expected seq 12, found 11",
        id="insert-forged-event-11-duplicate-seq",
    )
    yield pytest.param(
        [*c[:4], _forged(5, c[4].prev_hash), *c[5:]],
        6,
        "does not match the hash",
        id="replace-event-5-with-rehashed-forgery",
    )
    yield pytest.param(
        _replace_content(c, 9, c[9].content),
        9,
        "does not match its content",
        id="content-of-event-10-under-event-9",
    )
    yield pytest.param(
        [dataclasses.replace(c[0], hash=c[0].hash.upper()), *c[1:]],
        1,
        "does not match its content",
        id="stored-hash-edited",
    )
    yield pytest.param(c[1:], 1, "expected seq 1, found 2", id="delete-first-event")
    yield pytest.param(
        [dataclasses.replace(c[0], prev_hash="1" * 64), *c[1:]],
        1,
        "genesis",
        id="first-event-not-from-genesis",
    )
    yield pytest.param(
        [*c[:2], dataclasses.replace(c[2], algorithm="sm3"), *c[3:]],
        3,
        "unknown hash algorithm 'sm3'",
        id="unknown-algorithm",
    )


@pytest.mark.parametrize(("rows", "bad_seq", "words"), list(_tampered_cases()))
def test_tampering_names_the_first_bad_event(rows, bad_seq, words):
    result = verify_chain(rows)
    assert not result.ok
    assert result.first_bad_seq == bad_seq
    assert result.message.startswith(f"event {bad_seq}: ")
    assert words in result.message
    # Everything before the bad event verified, and the head is the last good one's hash.
    assert result.count == bad_seq - 1
    assert result.head_hash == (rows[bad_seq - 2].hash if bad_seq > 1 else GENESIS_HASH)


def test_recomputed_chain_after_deleting_the_newest_is_caught_only_by_an_anchor():
    anchor = (CHAIN[-1].hash, 20)
    shortened = CHAIN[:-1]  # the newest event deleted: what is left is a perfectly good chain
    assert verify_chain(shortened).ok
    result = verify_chain(shortened, anchor=anchor)
    assert (result.ok, result.first_bad_seq, result.count) == (False, 20, 19)
    assert result.message == (
        "event 20: missing; the log has 19 events, fewer than the anchor's 20: the log no longer extends the anchor"
    )


def test_deleting_in_the_middle_and_recomputing_everything_is_caught_only_by_an_anchor():
    rewritten = rechain(CHAIN[:11] + CHAIN[12:])  # event 12 removed, 13..20 renumbered and re-hashed
    assert verify_chain(rewritten).ok
    # An anchor published at event 15 names event 15: its hash is no longer the published one.
    result = verify_chain(rewritten, anchor=(CHAIN[14].hash, 15))
    assert (result.ok, result.first_bad_seq) == (False, 15)
    assert "differs from the anchor" in result.message
    assert "the log no longer extends the anchor" in result.message
    # The anchor of the full log: one event short.
    result = verify_chain(rewritten, anchor=(CHAIN[-1].hash, 20))
    assert (result.ok, result.first_bad_seq) == (False, 20)


def test_replacing_the_newest_with_a_rehashed_forgery_is_caught_by_the_anchor():
    forged = [*CHAIN[:-1], _forged(20, CHAIN[-1].prev_hash)]
    assert verify_chain(forged).ok
    result = verify_chain(forged, anchor=parse_anchor(verify_chain(CHAIN).anchor))
    assert (result.ok, result.first_bad_seq) == (False, 20)


@pytest.mark.parametrize("count", [1, 7, 20])
def test_log_that_extends_the_anchor_verifies(count):
    result = verify_chain(CHAIN, anchor=(CHAIN[count - 1].hash.upper(), count))
    assert result.ok
    assert result.message.endswith(f"extends the anchor at event {count}")


@pytest.mark.parametrize("anchor", [("ab" * 32, 0), ("ab" * 32, -1), (None, 3)])
def test_bad_anchor_argument(anchor):
    with pytest.raises(ValueError, match="anchor"):
        verify_chain(CHAIN, anchor=anchor)


def test_verify_stops_reading_at_the_first_bad_event():
    read = []

    def rows() -> Iterator[ChainRow]:
        for row in _replace_content(CHAIN, 5, "{}"):
            read.append(row.seq)
            yield row

    assert verify_chain(rows()).first_bad_seq == 5
    assert read == [1, 2, 3, 4, 5]


def _generated(n: int) -> Iterator[ChainRow]:
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        row = make_row(seq, prev, {"n": seq, "note": "流式校验"})
        prev = row.hash
        yield row


def test_verify_streams_in_constant_memory():
    def peak(n: int) -> int:
        tracemalloc.start()
        try:
            assert verify_chain(_generated(n)).count == n
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(500), peak(5000)
    assert large < small * 1.5 + 10_000  # ten times the events, about the same peak


# --- parse_anchor ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ab" * 32 + "@123", ("ab" * 32, 123)),
        ("  " + "AB" * 32 + "@1\n", ("ab" * 32, 1)),
    ],
)
def test_parse_anchor(text, expected):
    assert parse_anchor(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "HASH@COUNT"),
        ("ab" * 32, "HASH@COUNT"),
        ("ab" * 32 + "@", "HASH@COUNT"),
        ("@12", "HASH@COUNT"),
        ("ab" * 32 + "@12@13", "HASH@COUNT"),
        ("zz" * 32 + "@12", "HASH@COUNT"),
        ("ab" * 32 + "@-3", "HASH@COUNT"),
        ("ab" * 32 + "@1.5", "HASH@COUNT"),
        ("ab" * 31 + "@12", "64 hex digits, got 62"),
        ("ab" * 32 + "@0", "at least 1"),
    ],
)
def test_parse_anchor_errors(text, words):
    with pytest.raises(ValueError, match=words):
        parse_anchor(text)
