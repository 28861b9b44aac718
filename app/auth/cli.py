"""`flask users …`: unlock an account, reset a lost second factor, end sessions, prune old login failures.

Each change is written to the audit log with the operator's system user name as the actor."""

from __future__ import annotations

import getpass
import sys
from datetime import timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from ..audit import services as audit
from ..extensions import db
from . import mfa, sessions, throttle
from .models import User

users_cli = AppGroup("users", help="Accounts: unlock, reset the second factor, end sessions, prune old records.")


def _operator() -> tuple[int | None, str | None, str | None]:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return None, f"cli:{name}"[:50], None


def _user(username: str) -> User:
    user = db.session.execute(select(User).where(func.lower(User.username) == username.strip().lower())
                              ).scalar_one_or_none()
    if user is None:
        click.echo(f"error: no user {username!r}", err=True)
        sys.exit(1)
    return user


@users_cli.command("unlock")
@click.argument("username")
def unlock(username: str) -> None:
    """End a lockout after too many failed logins (any account name, existing or not)."""
    was_locked = throttle.unlock(username, _operator())
    db.session.commit()
    click.echo(f"{username}: unlocked" if was_locked else f"{username}: was not locked (failure count reset)")


@users_cli.command("reset-mfa")
@click.argument("username")
def reset_mfa(username: str) -> None:
    """Remove a user's second factor (lost phone): they enrol again at the next login. Ends their sessions."""
    user = _user(username)
    had = user.has_totp
    mfa.turn_off(user, action="auth.mfa_reset", actor=_operator())
    ended = sessions.end_user_sessions(user.id, "admin", actor=_operator())
    db.session.commit()
    state = "second factor removed" if had else "had no second factor"
    click.echo(f"{user.username}: {state}; {ended} session(s) ended")


@users_cli.command("end-sessions")
@click.argument("username")
def end_sessions(username: str) -> None:
    """End every open session of a user (for example a stolen laptop)."""
    user = _user(username)
    ended = sessions.end_user_sessions(user.id, "admin", actor=_operator())
    if not ended:
        audit.record("auth.sessions_ended", "user", user.id, {}, extra={"reason": "admin", "count": 0},
                     actor=_operator())
    db.session.commit()
    click.echo(f"{user.username}: {ended} session(s) ended")


@users_cli.command("prune")
@click.option("--days", type=int, default=None, help="keep this many days (default LOGIN_FAILURE_RETENTION_DAYS)")
def prune(days: int | None) -> None:
    """Delete login failures and session records older than the retention period (they no longer count
    for throttling or timeouts; logins and logouts stay in the audit log)."""
    days = days if days is not None else int(current_app.config["LOGIN_FAILURE_RETENTION_DAYS"])
    keep = max(days, 1)
    deleted = throttle.prune(timedelta(days=keep))
    ended = sessions.prune(timedelta(days=keep))
    db.session.commit()
    click.echo(f"{deleted} login failure(s) and {ended} session record(s) older than {keep} days deleted")


def register_users_cli(app: Flask) -> None:
    app.cli.add_command(users_cli)
