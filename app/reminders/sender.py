"""The sender: delivers pending notices from the outbox by mail (SMTP, or .eml files when no
SMTP server is configured) and by webhook.

Delivery is at least once. A sender first claims a batch (a lease in the rows, so two senders
never send the same notice), sends each over one connection, and commits "sent" right after
the server accepted that one message. A crash between the acceptance and that commit is the
only way to deliver a notice twice, and it can do so for at most the one message in flight.

Temporary failures (SMTP 4xx, HTTP 5xx/408/429, a server that is down) are retried with
exponential backoff; a permanent refusal (SMTP 5xx, HTTP 4xx) fails the notice at once with
the server's reply; after OUTBOX_MAX_ATTEMPTS a notice is failed and waits for an admin.
"""

from __future__ import annotations

import json
import logging
import os
import re
import smtplib
import socket
import ssl
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, parseaddr
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, or_, select, update

from ..extensions import db
from .dbutil import dialect, utcnow
from .models import Notice

logger = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)
_COLUMNS = (Notice.id, Notice.channel, Notice.recipient, Notice.day, Notice.kind, Notice.subject,
            Notice.body_text, Notice.body_html, Notice.items, Notice.attempts, Notice.message_id)


class Temporary(Exception):
    """Try this notice again later."""


class Permanent(Exception):
    """The server refused this notice for good."""


class TransportDown(Exception):
    """The server cannot be reached: this notice and the rest of the batch wait."""


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"sent {self.sent}, to retry {self.retried}, failed {self.failed}"


def _config_int(key: str, default: int) -> int:
    try:
        return int(current_app.config.get(key) or default)
    except (TypeError, ValueError):
        return default


def backoff(attempts: int) -> timedelta:
    """Wait before the next attempt: base, 2 × base, 4 × base … capped at six hours."""
    base = _config_int("OUTBOX_RETRY_BASE_SECONDS", 60)
    return min(timedelta(seconds=base * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


# --------------------------------------------------------------------------- transports


def build_message(row: Any) -> str:
    """The MIME message of a mail notice: plain text and HTML, UTF-8 (base64), Message-ID from its
    key. Built with the email package's compat32 classes, several times faster than EmailMessage."""
    msg = MIMEMultipart("alternative")
    msg["Subject"] = Header(row.subject, "utf-8")
    name, address = parseaddr(str(current_app.config["MAIL_FROM"]))
    msg["From"] = formataddr((str(Header(name, "utf-8")), address)) if name else address
    msg["To"] = row.recipient
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = row.message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Notice-Kind"] = row.kind
    msg.attach(MIMEText(row.body_text, "plain", "utf-8"))
    msg.attach(MIMEText(row.body_html, "html", "utf-8"))
    return msg.as_string()  # ASCII only (encoded headers, base64 bodies); smtplib sends it with CRLF


def _smtp_reply(code: int, text: bytes | str) -> str:
    message = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {message}".strip()


def _classify(code: int, reply: str) -> Exception:
    if 500 <= code < 600:
        return Permanent(reply)
    return Temporary(reply)


class SmtpTransport:
    """One SMTP connection for a batch (none | starttls | ssl, optional login)."""

    def __init__(self) -> None:
        cfg = current_app.config
        self.host = str(cfg["SMTP_HOST"])
        self.security = str(cfg.get("SMTP_SECURITY") or "none").lower()
        default_port = {"ssl": 465, "starttls": 587}.get(self.security, 25)
        self.port = _config_int("SMTP_PORT", default_port)
        self.timeout = _config_int("SMTP_TIMEOUT", 30)
        self.user, self.password = cfg.get("SMTP_USER"), cfg.get("SMTP_PASSWORD")
        self.sender = parseaddr(str(cfg["MAIL_FROM"]))[1]
        self.conn: smtplib.SMTP | None = None

    def open(self) -> None:
        try:
            if self.security == "ssl":
                conn: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                                      context=ssl.create_default_context())
            else:
                conn = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                if self.security == "starttls":
                    conn.starttls(context=ssl.create_default_context())
            if self.user:
                conn.login(str(self.user), str(self.password or ""))
        except (OSError, smtplib.SMTPException) as exc:
            raise TransportDown(f"无法连接邮件服务器 {self.host}:{self.port}：{exc}") from exc
        self.conn = conn

    def send(self, row: Any) -> None:
        if self.conn is None:
            self.open()
        assert self.conn is not None
        try:
            self.conn.sendmail(self.sender, [row.recipient], build_message(row))
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise _classify(code, _smtp_reply(code, text)) from exc
        except smtplib.SMTPServerDisconnected as exc:
            self.conn = None
            raise TransportDown(f"邮件服务器断开连接：{exc}") from exc
        except smtplib.SMTPResponseException as exc:
            raise _classify(exc.smtp_code, _smtp_reply(exc.smtp_code, exc.smtp_error)) from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.conn = None
            raise TransportDown(f"邮件发送中断：{exc}") from exc

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (OSError, smtplib.SMTPException):
                self.conn.close()
            self.conn = None


class FileTransport:
    """No SMTP server configured: each mail becomes an .eml file under instance/mail/."""

    def __init__(self) -> None:
        self.folder = Path(current_app.instance_path) / "mail"

    def open(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def send(self, row: Any) -> None:
        name = f"{row.day.isoformat()}_{_safe(row.kind)}_{_safe(row.recipient)}.eml"
        _write_atomically(self.folder / name, build_message(row).encode("ascii"))

    def close(self) -> None:
        pass


class WebhookTransport:
    """A JSON POST per notice to WEBHOOK_URL (a messaging app's group robot, for instance)."""

    def __init__(self) -> None:
        self.url = current_app.config.get("WEBHOOK_URL")
        self.timeout = _config_int("WEBHOOK_TIMEOUT", 10)

    def open(self) -> None:
        if not self.url:
            raise TransportDown("未配置 WEBHOOK_URL")

    def send(self, row: Any) -> None:
        body = json.dumps(webhook_payload(row), ensure_ascii=False).encode()
        request = urllib.request.Request(str(self.url), data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "Idempotency-Key": row.message_id})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            reply = f"HTTP {exc.code} {exc.read()[:500].decode('utf-8', 'replace')}".strip()
            if 400 <= exc.code < 500 and exc.code not in (408, 429):
                raise Permanent(reply) from exc
            raise Temporary(reply) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise TransportDown(f"无法连接 Webhook：{getattr(exc, 'reason', exc)}") from exc

    def close(self) -> None:
        pass


def webhook_payload(row: Any) -> dict[str, Any]:
    """A text message most group robots accept, and the notice itself for other receivers."""
    return {
        "msgtype": "text",
        "text": {"content": f"{row.subject}\n\n{row.body_text}"},
        "notice": {"message_id": row.message_id, "day": row.day.isoformat(), "kind": row.kind,
                   "subject": row.subject, "items": row.items},
    }


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9@._-]+", "_", text)[:80]


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def transport_for(channel: str) -> SmtpTransport | FileTransport | WebhookTransport:
    if channel == "webhook":
        return WebhookTransport()
    return SmtpTransport() if current_app.config.get("SMTP_HOST") else FileTransport()


# --------------------------------------------------------------------------- claiming and marking


def claim(token: str, now: datetime, limit: int) -> list[int]:
    """Take a lease on up to ``limit`` due notices; other senders skip them until it expires."""
    lease = timedelta(seconds=_config_int("OUTBOX_CLAIM_SECONDS", 300))
    claimable = (Notice.status == "pending", Notice.channel.in_(("mail", "webhook")),
                 Notice.next_attempt_at <= now,
                 or_(Notice.claimed_until.is_(None), Notice.claimed_until < now))
    ids = select(Notice.id).where(*claimable).order_by(Notice.id).limit(limit)
    if dialect() == "postgresql":
        ids = ids.with_for_update(skip_locked=True)
    claimed = db.session.execute(
        update(Notice).where(Notice.id.in_(ids.scalar_subquery()), *claimable)
        .values(claimed_by=token, claimed_until=now + lease).returning(Notice.id)
        .execution_options(synchronize_session=False)
    ).scalars().all()
    db.session.commit()
    return sorted(claimed)


def _mark(notice_id: int, token: str, **values: Any) -> None:
    table = Notice.__table__  # Core: one small UPDATE and its commit per message
    result = db.session.execute(
        update(table).where(table.c.id == notice_id, table.c.claimed_by == token)
        .values(claimed_by=None, claimed_until=None, **values))
    db.session.commit()
    if not result.rowcount:
        logger.warning("notice %s: the lease expired before it was marked", notice_id)


_table = Notice.__table__
#: The UPDATE after each accepted message, built once (the hot path of the sender).
_MARK_SENT = (update(_table).where(_table.c.id == bindparam("notice_id"), _table.c.claimed_by == bindparam("token"))
              .values(status="sent", sent_at=bindparam("sent_at"), attempts=bindparam("attempts"),
                      claimed_by=None, claimed_until=None))


def mark_sent(row: Any, token: str) -> None:
    result = db.session.execute(_MARK_SENT, {"notice_id": row.id, "token": token, "sent_at": utcnow(),
                                             "attempts": row.attempts + 1})
    db.session.commit()
    if not result.rowcount:
        logger.warning("notice %s: the lease expired before it was marked", row.id)


def mark_retry(row: Any, token: str, error: str, now: datetime, report: SendReport) -> None:
    attempts = row.attempts + 1
    if attempts >= _config_int("OUTBOX_MAX_ATTEMPTS", 8):
        _mark(row.id, token, status="failed", attempts=attempts, last_error=f"{error}（已尝试 {attempts} 次）")
        report.failed += 1
    else:
        _mark(row.id, token, attempts=attempts, last_error=error, next_attempt_at=now + backoff(attempts))
        report.retried += 1
    report.errors.append(f"notice {row.id}: {error}")


def mark_failed(row: Any, token: str, error: str, report: SendReport) -> None:
    _mark(row.id, token, status="failed", attempts=row.attempts + 1, last_error=error)
    report.failed += 1
    report.errors.append(f"notice {row.id}: {error}")


# --------------------------------------------------------------------------- the loop


def new_token() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def send_pending(*, now: datetime | None = None, batch_size: int | None = None,
                 max_batches: int | None = None) -> SendReport:
    """Deliver every notice that is due, batch after batch, until none is left or a server is down."""
    report = SendReport()
    token = new_token()
    size = batch_size or _config_int("OUTBOX_BATCH", 200)
    down: set[str] = set()
    batches = 0
    while max_batches is None or batches < max_batches:
        at = now or utcnow()
        ids = claim(token, at, size)
        if not ids:
            break
        batches += 1
        rows = db.session.execute(select(*_COLUMNS).where(Notice.id.in_(ids)).order_by(Notice.id)).all()
        db.session.commit()
        for channel in ("mail", "webhook"):
            batch = [r for r in rows if r.channel == channel]
            if batch:
                if channel in down:
                    for row in batch:
                        mark_retry(row, token, "服务器暂时不可用，稍后重试", at, report)
                elif not deliver(batch, token, at, report):
                    down.add(channel)
        if down >= {r.channel for r in rows}:
            break
    return report


def deliver(rows: list[Any], token: str, now: datetime, report: SendReport) -> bool:
    """Send one channel's batch over one connection; False when the server is down."""
    transport = transport_for(rows[0].channel)
    try:
        transport.open()
    except TransportDown as exc:
        for row in rows:
            mark_retry(row, token, str(exc), now, report)
        return False
    try:
        for i, row in enumerate(rows):
            try:
                transport.send(row)
            except Permanent as exc:
                mark_failed(row, token, str(exc), report)
            except Temporary as exc:
                mark_retry(row, token, str(exc), now, report)
            except TransportDown as exc:
                for rest in rows[i:]:
                    mark_retry(rest, token, str(exc), now, report)
                return False
            else:
                mark_sent(row, token)
                report.sent += 1
    finally:
        transport.close()
    return True
