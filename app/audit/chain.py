"""The hash chain of the audit log: canonical serialisation, event hashes and verification.

Pure code: no Flask, no database. The writer (``services.record``) and the ``verify`` command both use it.

Canonical serialisation (``canonical_json``)
    JSON, UTF-8, keys sorted at every level, no insignificant whitespace, non-ASCII kept as is (not
    ``\\uXXXX``-escaped). Allowed values: ``dict`` / ``Mapping`` with ``str`` keys, ``list`` / ``tuple``,
    ``str``, ``int``, ``bool``, ``None`` and

    * ``Decimal`` -> a JSON *string* in plain notation, not normalised: ``Decimal("1.50")`` -> ``"1.50"``,
      ``Decimal("18.0")`` -> ``"18.0"``, ``Decimal("1E+3")`` -> ``"1000"``. The figure as the unit entered
      it, trailing zeros included, is the evidence; a string, because a JSON number invites float parsing;
    * aware ``datetime`` -> a JSON string, UTC, ISO-8601 with a trailing ``Z``, microseconds only when
      non-zero: ``"2025-05-03T01:12:33Z"``, ``"2025-05-03T01:12:33.120000Z"``;
    * ``date`` -> ``"2025-05-31"``.

    Rejected: ``float`` (TypeError: binary floats do not round-trip as the figure that was entered), ``set``
    (TypeError: no order), other types and non-``str`` keys (TypeError), naive datetimes (ValueError: an
    ambiguous time cannot be evidence), NaN / infinite Decimals (ValueError).

    The serialisation keeps no type tags: ``Decimal("1.50")`` and the string ``"1.50"`` serialise alike. That
    is on purpose: the stored text, parsed back with ``json.loads``, serialises to the very same bytes, so a
    row read back from the database re-hashes to the stored hash.

The hashed structure (``compute_hash``)
    ::

        hash = ALGORITHMS[algorithm](canonical_json({"seq": seq, "prev": prev_hash, "content": content}))

    that is, with the keys in sorted order, the hexadecimal digest of exactly these bytes::

        {"content":<canonical_json(content)>,"prev":"<prev_hash>","seq":<seq>}

    ``seq`` is the event's number (1, 2, 3, ...), ``prev_hash`` the previous event's hash as lowercase hex
    (``GENESIS_HASH``, 64 zeros, for event 1). The algorithm's name is stored beside each event, not hashed:
    changing it changes the function, so the stored hash no longer matches anyway.

Verification (``verify_chain``)
    Streams the rows once, in seq order, keeping only the last two hashes (constant memory), and stops at the
    first broken event. A row's ``content`` may be the stored canonical text (``str`` or ``bytes``), which is
    hashed byte for byte as stored -- the fast path, and the strictest: any changed byte is found -- or a
    ``Mapping``, which is serialised first. An anchor ``HASH@COUNT`` published earlier (in a brief, a
    letter, a second system) catches what the chain alone cannot: a log cut short and re-hashed from the cut
    onward.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

__all__ = [
    "ALGORITHMS",
    "DEFAULT_ALGORITHM",
    "GENESIS_HASH",
    "ChainRow",
    "SupportsChainRow",
    "VerifyResult",
    "canonical_json",
    "compute_hash",
    "envelope",
    "make_row",
    "parse_anchor",
    "verify_chain",
]


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# Hash algorithms by the name stored with each event: bytes -> lowercase hex digest. Register SM3 (GB/T
# 32905) here under "sm3" when it is needed, e.g. through hashlib.new("sm3") where OpenSSL offers it or the
# gmssl package; events keep naming the algorithm that hashed them, so one chain may change algorithm.
ALGORITHMS: dict[str, Callable[[bytes], str]] = {"sha256": _sha256_hex}
DEFAULT_ALGORITHM = "sha256"
GENESIS_HASH = "0" * 64

_HEX = re.compile(r"[0-9a-f]+")
_ANCHOR = re.compile(r"([0-9A-Fa-f]+)@([0-9]+)")


# --- canonical serialisation --------------------------------------------------------------------------------


def _datetime_text(value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} is ambiguous: give it a time zone")
    try:
        utc = value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"datetime {value.isoformat()} is out of range in UTC") from exc
    # isoformat() omits the fraction when microsecond == 0 and writes 6 digits otherwise.
    return utc.replace(tzinfo=None).isoformat() + "Z"


def _decimal_text(value: Decimal) -> str:
    if not value.is_finite():
        raise ValueError(f"Decimal {value} is not a finite number")
    # Plain notation, exponent and trailing zeros as entered: the figure as the unit typed it is the
    # evidence, and "18.0" (one decimal reported) is not the same statement as "18".
    return format(value, "f")


def _default(value: Any) -> Any:
    """json's hook for the types it does not know. Floats never get here: the caller checks for them."""
    kind = type(value)
    if kind is Decimal:
        return _decimal_text(value)
    if kind is datetime:
        return _datetime_text(value)
    if kind is date:
        return value.isoformat()
    # Subclasses (rare): order matters, datetime is a date.
    if isinstance(value, Decimal):
        return _decimal_text(value)
    if isinstance(value, datetime):
        return _datetime_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{kind.__name__} is not allowed in an audit event: {value!r}")


# One encoder, built once: the C accelerator does the work, ``_default`` handles Decimal and dates.
_encode = json.JSONEncoder(
    ensure_ascii=False,
    sort_keys=True,
    separators=(",", ":"),
    allow_nan=False,
    default=_default,
).encode

# The same for mappings read back from the database, which cannot hold a cycle: skipping the cycle check
# makes verify about a quarter faster on that path. A cycle would end in RecursionError, which verify reports.
_encode_stored = json.JSONEncoder(
    ensure_ascii=False,
    sort_keys=True,
    separators=(",", ":"),
    allow_nan=False,
    check_circular=False,
    default=_default,
).encode

_LEAF_TYPES = frozenset({str, int, bool, type(None), Decimal, datetime, date})


def _check_types(content: Any) -> None:
    """Reject what json would accept but the canonical form must not: floats and non-str keys.

    Iterative, so deep nesting cannot exhaust the stack; shared sub-objects are checked once, and cycles are
    left to the encoder, which reports them."""
    stack = [content]
    seen: set[int] = set()
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind in _LEAF_TYPES:
            continue
        if isinstance(value, float):
            raise TypeError(f"float {value!r} is not allowed in an audit event: use Decimal or int")
        if isinstance(value, Mapping | list | tuple):
            if id(value) in seen:
                continue
            seen.add(id(value))
            if isinstance(value, Mapping):
                for key in value:
                    if not isinstance(key, str):
                        raise TypeError(f"key {key!r} is not a str: audit event keys must be strings")
                stack.extend(value.values())
            else:
                stack.extend(value)
        elif isinstance(value, set | frozenset):
            raise TypeError("set is not allowed in an audit event: it has no order, use a sorted list")
        # Anything else is left to _default, which accepts Decimal / date subclasses and rejects the rest.


def canonical_json(content: Mapping[str, Any]) -> bytes:
    """The canonical UTF-8 bytes of ``content`` (see the module docstring for the rules)."""
    if not isinstance(content, Mapping):
        raise TypeError(f"content must be a mapping, not {type(content).__name__}")
    _check_types(content)
    return _encode(content if type(content) is dict else dict(content)).encode("utf-8")


# --- hashing ------------------------------------------------------------------------------------------------


def envelope(seq: int, prev_hash: str, content_json: bytes) -> bytes:
    """The bytes that are hashed, built from content already in canonical form.

    Equal to ``canonical_json({"seq": seq, "prev": prev_hash, "content": content})`` when ``content_json`` is
    ``canonical_json(content)``; built by concatenation because that is several times faster."""
    return b'{"content":%s,"prev":"%s","seq":%d}' % (content_json, prev_hash.encode("ascii"), seq)


def _hash_function(algorithm: str) -> Callable[[bytes], str]:
    try:
        return ALGORITHMS[algorithm]
    except KeyError:
        known = ", ".join(sorted(ALGORITHMS))
        raise ValueError(f"unknown hash algorithm {algorithm!r} (known: {known})") from None


def _check_link(seq: int, prev_hash: str) -> None:
    if type(seq) is not int or seq < 1:
        raise ValueError(f"seq must be a whole number >= 1, got {seq!r}")
    if not isinstance(prev_hash, str) or not _HEX.fullmatch(prev_hash):
        raise ValueError(f"prev_hash must be lowercase hexadecimal, got {prev_hash!r}")


def compute_hash(
    seq: int, prev_hash: str, content: Mapping[str, Any], algorithm: str = DEFAULT_ALGORITHM
) -> str:
    """Hex digest of event ``seq`` chained to ``prev_hash`` (``GENESIS_HASH`` for event 1)."""
    _check_link(seq, prev_hash)
    function = _hash_function(algorithm)
    return function(envelope(seq, prev_hash, canonical_json(content)))


# --- rows and verification ----------------------------------------------------------------------------------


class SupportsChainRow(Protocol):
    """What ``verify_chain`` reads from a row: the ``AuditEvent`` model and ``ChainRow`` both fit."""

    @property
    def seq(self) -> int: ...
    @property
    def prev_hash(self) -> str: ...
    @property
    def hash(self) -> str: ...
    @property
    def algorithm(self) -> str: ...
    @property
    def content(self) -> Mapping[str, Any] | str | bytes: ...


@dataclass(frozen=True, slots=True)
class ChainRow:
    """One event as the chain sees it. ``content`` is the stored canonical text, or a mapping."""

    seq: int
    prev_hash: str
    hash: str
    algorithm: str
    content: Mapping[str, Any] | str | bytes


def make_row(
    seq: int, prev_hash: str, content: Mapping[str, Any], algorithm: str = DEFAULT_ALGORITHM
) -> ChainRow:
    """A new event: serialise ``content`` once, hash it, and keep the canonical text for storage."""
    _check_link(seq, prev_hash)
    function = _hash_function(algorithm)
    content_json = canonical_json(content)
    digest = function(envelope(seq, prev_hash, content_json))
    return ChainRow(seq, prev_hash, digest, algorithm, content_json.decode("utf-8"))


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of ``verify_chain``.

    ``count`` is the number of events verified good (all of them when ``ok``); ``head_hash`` the hash of the
    last good event (``GENESIS_HASH`` if none), so ``anchor`` is what to publish after a clean run.
    ``first_bad_seq`` names the first broken (or, against an anchor, missing) event; ``message`` is English,
    for the command line."""

    ok: bool
    count: int
    head_hash: str
    first_bad_seq: int | None
    message: str

    @property
    def anchor(self) -> str:
        return f"{self.head_hash}@{self.count}"


def parse_anchor(text: str) -> tuple[str, int]:
    """``"<hex hash>@<count>"`` -> ``(hash, count)``; the hash is lower-cased."""
    match = _ANCHOR.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"anchor must look like HASH@COUNT (hex digest, '@', event count), got {text!r}")
    digest, count_text = match.group(1).lower(), match.group(2)
    lengths = sorted({len(function(b"")) for function in ALGORITHMS.values()})
    if len(digest) not in lengths:
        expected = " or ".join(str(n) for n in lengths)
        raise ValueError(f"anchor hash must have {expected} hex digits, got {len(digest)}: {text!r}")
    count = int(count_text)
    if count < 1:
        raise ValueError(f"anchor count must be at least 1, got {count}: {text!r}")
    return digest, count


def _short(digest: object) -> str:
    text = str(digest)
    return text[:12] + "…" if len(text) > 12 else text


def _broken(seq: int, head_hash: str, message: str) -> VerifyResult:
    """Event ``seq`` is the first bad one; all before it verified, the last of them has ``head_hash``."""
    return VerifyResult(False, seq - 1, head_hash, seq, f"event {seq}: {message}")


def verify_chain(rows: Iterable[SupportsChainRow], anchor: tuple[str, int] | None = None) -> VerifyResult:
    """Check the chain in one pass and name the first broken event.

    ``rows`` must come in seq order (``ORDER BY seq``); any iterable works, a server-side cursor keeps memory
    constant. Per event, in this order: seq is the next number (a deletion, insertion or swap shows here),
    prev_hash is the previous event's hash, the algorithm is known, the stored hash is the recomputed one.
    With ``anchor=(hash, count)``: event ``count`` must exist and have that hash."""
    anchor_hash, anchor_count = (None, 0) if anchor is None else anchor
    if anchor is not None:
        if type(anchor_count) is not int or anchor_count < 1:
            raise ValueError(f"anchor count must be a whole number >= 1, got {anchor_count!r}")
        if not isinstance(anchor_hash, str):
            raise ValueError(f"anchor hash must be a str, got {anchor_hash!r}")
        anchor_hash = anchor_hash.lower()

    algorithms = ALGORITHMS
    encode = _encode_stored
    expected_seq = 1
    prev = GENESIS_HASH  # hash of the last good event
    prev_bytes = prev.encode("ascii")
    before_prev = None  # hash of the event before it: tells an inserted event from an altered link

    for row in rows:
        seq = row.seq
        if seq != expected_seq:
            return _broken(expected_seq, prev, f"expected seq {expected_seq}, found {seq}")
        if row.prev_hash != prev:
            if seq == 1:
                return _broken(
                    seq, prev, f"prev_hash {_short(row.prev_hash)} is not the genesis value (64 zeros)"
                )
            if row.prev_hash == before_prev:
                # This event links past its predecessor to the one before: the predecessor, good on its own,
                # was put in between (seq being unique, the events after it were renumbered).
                return VerifyResult(
                    False,
                    seq - 2,
                    before_prev,
                    seq - 1,
                    f"event {seq - 1}: inserted; event {seq} links to event {seq - 2} "
                    f"(prev_hash {_short(row.prev_hash)}), not to event {seq - 1}",
                )
            return _broken(
                seq,
                prev,
                f"prev_hash {_short(row.prev_hash)} does not match the hash {_short(prev)} of event {seq - 1}",
            )
        function = algorithms.get(row.algorithm)
        if function is None:
            return _broken(seq, prev, f"unknown hash algorithm {row.algorithm!r}")
        content = row.content
        kind = type(content)
        try:
            if kind is str:
                data = content.encode("utf-8")
            elif kind is bytes:
                data = content
            elif isinstance(content, str):
                data = content.encode("utf-8")
            elif isinstance(content, bytes | bytearray | memoryview):
                data = bytes(content)
            else:
                # A mapping read back from a JSON column. No float check here: canonical text never holds a
                # float, so a float's bytes cannot match the stored hash and the event fails below anyway.
                data = encode(content).encode("utf-8")
        except (TypeError, ValueError, RecursionError) as exc:  # UnicodeEncodeError is a ValueError
            return _broken(seq, prev, f"content cannot be serialised: {exc}")
        digest = function(b'{"content":%s,"prev":"%s","seq":%d}' % (data, prev_bytes, seq))
        if row.hash != digest:
            return _broken(
                seq,
                prev,
                f"stored hash {_short(row.hash)} does not match its content (recomputed {_short(digest)})",
            )
        if seq == anchor_count and digest != anchor_hash:
            return _broken(
                seq,
                prev,
                f"hash {_short(digest)} differs from the anchor {_short(anchor_hash)}@{anchor_count}: "
                "the log no longer extends the anchor",
            )
        before_prev = prev
        prev = digest
        prev_bytes = digest.encode("ascii")
        expected_seq = seq + 1

    count = expected_seq - 1
    if count < anchor_count:
        return VerifyResult(
            False,
            count,
            prev,
            count + 1,
            f"event {count + 1}: missing; the log has {count} events, fewer than the anchor's {anchor_count}: "
            "the log no longer extends the anchor",
        )
    message = f"chain intact: {count} events, head {prev}@{count}"
    if anchor is not None:
        message += f"; extends the anchor at event {anchor_count}"
    return VerifyResult(True, count, prev, None, message)
