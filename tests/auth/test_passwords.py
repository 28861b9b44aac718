"""Password rules: length, the shipped list of common passwords, not the user name."""

from __future__ import annotations

import pytest

from app.auth.passwords import common_passwords, password_problem


def test_the_common_password_list_ships_with_the_code():
    words = common_passwords()
    assert len(words) > 10_000
    assert {"password123", "1qaz2wsx3edc", "woaini1314", "qwertyuiop"} <= words


@pytest.mark.parametrize(("password", "username", "message"), [
    ("short-1", "zhang", "至少需要 10 个字符"),
    ("password123", "zhang", "常见密码"),
    ("QWERTYUIOP", "zhang", "常见密码"),
    ("aaaaaaaaaaaa", "zhang", "过于简单"),
    ("zhangsan2025", "zhangsan2025", "不能与用户名相同"),
    ("my-zhangsan-pw", "ZhangSan", "包含用户名"),
    ("x" * 129 + "yz", "zhang", "不能超过 128 个字符"),
])
def test_bad_passwords_are_refused_with_a_reason(ctx, password, username, message):
    problem = password_problem(password, username)
    assert problem is not None and message in problem


def test_a_long_uncommon_password_is_accepted(ctx):
    assert password_problem("草原上的风 blows 2025", "zhangsan") is None
    assert password_problem("correct horse battery", "zhangsan") is None


def test_the_minimum_length_comes_from_the_config(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "PASSWORD_MIN_LENGTH", 16)
    assert "至少需要 16 个字符" in password_problem("fifteen-chars-x", "zhang")
