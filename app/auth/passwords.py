"""Password rules (ASVS 2.1): a minimum length, a list of common passwords, not the user name.

No composition rules (ASVS 2.1.9): length and the list do the work. The list ships with the code
(common_passwords.txt); nothing is fetched at run time."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from flask import current_app, has_app_context
from flask_babel import gettext

COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def _limits() -> tuple[int, int]:
    config = current_app.config if has_app_context() else {}
    return int(config.get("PASSWORD_MIN_LENGTH", 10)), int(config.get("PASSWORD_MAX_LENGTH", 128))


def password_problem(password: str, username: str | None = None) -> str | None:
    """The first rule this password breaks, as a message for the field, or None if it is acceptable."""
    minimum, maximum = _limits()
    if len(password) < minimum:
        return gettext("密码至少需要 %(n)s 个字符。", n=minimum)
    if len(password) > maximum:
        return gettext("密码不能超过 %(n)s 个字符。", n=maximum)
    lowered = password.lower()
    if len(set(password)) < 3:
        return gettext("密码过于简单（重复的字符），请换一个。")
    if lowered in common_passwords():
        return gettext("这是常见密码，容易被猜中，请换一个。")
    if username:
        name = username.strip().lower()
        if lowered == name or (len(name) >= 4 and name in lowered):
            return gettext("密码不能与用户名相同，也不能包含用户名。")
    return None
