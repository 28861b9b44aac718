"""Second factor: TOTP (RFC 6238, 30-second steps, 6 digits, SHA-1 as every authenticator app expects)
and ten one-time recovery codes stored as salted SHA-256.

A code is accepted for the step before, the current step and the step after (clock drift); a step once
used is never accepted again for that user (the conditional UPDATE makes that hold across workers)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC

import pyotp
import segno
from flask import current_app
from markupsafe import Markup
from sqlalchemy import delete, func, or_, select, update

from ..audit import services as audit
from ..extensions import db
from . import clock
from .models import RecoveryCode, User

STEP_SECONDS = 30
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
RECOVERY_LENGTH = 10  # about 49 bits each
TOTP_RE = re.compile(r"^\d{6}$")


def required_for(user: User) -> bool:
    return user.role in tuple(current_app.config.get("MFA_REQUIRED_ROLES") or ())


def new_secret() -> str:
    return pyotp.random_base32()  # 32 base32 characters, 160 bits


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=current_app.config["MFA_ISSUER"])


def qr_svg(uri: str) -> Markup:
    """The otpauth URI as an inline SVG QR code (drawn here, no CDN, no inline style or script)."""
    svg = segno.make(uri, error="m").svg_inline(scale=4, dark="#1f2933", light="#ffffff", border=4)
    return Markup(svg)  # segno's own markup: paths and numbers, no user text


def formatted_secret(secret: str) -> str:
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def _current_step() -> int:
    return int(clock.now().replace(tzinfo=UTC).timestamp()) // STEP_SECONDS


def _matching_step(secret: str, code: str, after_step: int | None) -> int | None:
    totp = pyotp.TOTP(secret)
    now = _current_step()
    for step in (now - 1, now, now + 1):
        if after_step is not None and step <= after_step:
            continue
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def normalize_code(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").lower()


def verify_totp(user: User, code: str) -> bool:
    """True once for a valid code of a step not used before by this user."""
    code = normalize_code(code)
    if not user.has_totp or not TOTP_RE.match(code):
        return False
    step = _matching_step(user.totp_secret or "", code, user.totp_last_step)
    if step is None:
        return False
    result = db.session.execute(
        update(User).where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step).execution_options(synchronize_session=False))
    return result.rowcount == 1


def _hash_code(code: str, salt: str | None = None) -> str:
    salt = salt or secrets.token_hex(8)
    return f"{salt}${hashlib.sha256((salt + normalize_code(code)).encode()).hexdigest()}"


def _code_matches(code: str, stored: str) -> bool:
    salt, _, _digest = stored.partition("$")
    return hmac.compare_digest(_hash_code(code, salt), stored)


def use_recovery_code(user: User, code: str) -> bool:
    """True if the code is one of the user's unused recovery codes; it is spent at once."""
    code = normalize_code(code)
    if not user.has_totp or len(code) != RECOVERY_LENGTH:
        return False
    rows = db.session.execute(select(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                         RecoveryCode.used_at.is_(None))).scalars().all()
    for row in rows:
        if _code_matches(code, row.code_hash):
            spent = db.session.execute(update(RecoveryCode).where(RecoveryCode.id == row.id,
                                                                  RecoveryCode.used_at.is_(None))
                                       .values(used_at=clock.now()).execution_options(synchronize_session=False))
            return spent.rowcount == 1
    return False


def recovery_codes_left(user: User) -> int:
    return db.session.execute(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))).scalar_one()


def _new_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    moment = clock.now()
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_hash_code(raw), created_at=moment))
    db.session.flush()
    return codes


def enrol(user: User, secret: str, code: str) -> list[str] | None:
    """Turn TOTP on if the code matches the new secret; returns the recovery codes (shown once)."""
    code = normalize_code(code)
    if not TOTP_RE.match(code):
        return None
    step = _matching_step(secret, code, None)
    if step is None:
        return None
    user.totp_secret, user.totp_enabled_at, user.totp_last_step = secret, clock.now(), step
    codes = _new_recovery_codes(user)
    audit.record("auth.mfa_enrol", "user", user.id, {"totp": [False, True]})
    return codes


def regenerate_recovery_codes(user: User) -> list[str]:
    codes = _new_recovery_codes(user)
    audit.record("auth.recovery_codes_renewed", "user", user.id, {}, extra={"count": len(codes)})
    return codes


def turn_off(user: User, action: str = "auth.mfa_disable",
             actor: tuple[int | None, str | None, str | None] | None = None) -> None:
    """Remove the secret and the recovery codes (by the user, or `flask users reset-mfa`)."""
    had = user.has_totp
    user.totp_secret, user.totp_enabled_at, user.totp_last_step = None, None, None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    audit.record(action, "user", user.id, {"totp": [had, False]}, actor=actor)
    db.session.flush()
