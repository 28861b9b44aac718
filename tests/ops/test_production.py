"""Production mode (APP_ENV=production) refuses a generated or weak secret key and debug mode, in one
line that says why; a proper production configuration starts, with JSON logs."""

from __future__ import annotations

import logging
import secrets

import pytest

from app import create_app
from app.ops.logging import JsonFormatter, TextFormatter

GOOD_KEY = secrets.token_hex(32)


def build(tmp_path, **config):
    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'app.db'}", **config})


def refusal(tmp_path, **config) -> str:
    with pytest.raises(RuntimeError) as caught:
        build(tmp_path, **config)
    message = str(caught.value)
    assert "\n" not in message, "the reason must fit on one line"
    return message


def test_production_refuses_a_missing_secret_key_and_does_not_generate_one(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv("APP_ENV", "production")
    message = refusal(tmp_path)
    assert message.startswith("Refusing to start in production mode (APP_ENV=production): SECRET_KEY is not set")
    assert "instance/config.py" in message and "at least 32" in message
    assert not (clean_env / "secret_key").exists()


def test_development_still_generates_its_key(clean_env, tmp_path):
    app = build(tmp_path)
    assert app.config["APP_ENV"] == "development"
    assert app.config["SECRET_KEY"] == (clean_env / "secret_key").read_text().strip()


def test_production_refuses_the_generated_development_key(clean_env, monkeypatch, tmp_path):
    build(tmp_path)  # development: writes instance/secret_key
    key = (clean_env / "secret_key").read_text().strip()
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", key)
    assert "SECRET_KEY is the development key generated into" in refusal(tmp_path)


@pytest.mark.parametrize("key", ["change-me", "x" * 40, GOOD_KEY[:31]])
def test_production_refuses_a_weak_secret_key(clean_env, monkeypatch, tmp_path, key):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", key)
    assert "SECRET_KEY is too weak" in refusal(tmp_path)


def test_production_refuses_debug_from_the_environment(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("FLASK_DEBUG", "1")
    assert "debug mode is on" in refusal(tmp_path)


def test_production_refuses_debug_from_the_config(clean_env, tmp_path):
    message = refusal(tmp_path, APP_ENV="production", SECRET_KEY=GOOD_KEY, DEBUG=True)
    assert message.startswith("Refusing to start in production mode") and "debug mode is on" in message


def test_an_unknown_mode_is_refused_rather_than_run_unchecked(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv("APP_ENV", "prod")
    assert refusal(tmp_path) == "APP_ENV must be 'production' or 'development', not 'prod'"


def test_a_bad_log_format_or_level_is_refused(clean_env, tmp_path):
    assert "LOG_FORMAT must be 'json' or 'text'" in refusal(tmp_path, LOG_FORMAT="xml")
    assert refusal(tmp_path, LOG_FORMAT="json", LOG_LEVEL="loud") == (
        "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'loud'")


def test_a_valid_production_config_starts_with_json_logs(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", GOOD_KEY)
    app = build(tmp_path)
    assert app.config["APP_ENV"] == "production" and not app.debug
    assert app.config["SECRET_KEY"] == GOOD_KEY
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_policy_tracker", False)]
    assert len(ours) == 1 and isinstance(ours[0].formatter, JsonFormatter)
    build(tmp_path)  # a second app (another worker's, a test's) replaces the handler, never doubles it
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_policy_tracker", False)]
    assert len(ours) == 1


def test_text_logs_when_asked(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("LOG_FORMAT", "text")
    build(tmp_path)
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_policy_tracker", False)]
    assert len(ours) == 1 and isinstance(ours[0].formatter, TextFormatter)


def test_secret_key_from_instance_config_is_accepted(clean_env, monkeypatch, tmp_path):
    clean_env.mkdir(parents=True, exist_ok=True)
    (clean_env / "config.py").write_text(f"APP_ENV = 'production'\nSECRET_KEY = {GOOD_KEY!r}\n")
    app = build(tmp_path)
    assert app.config["APP_ENV"] == "production" and app.config["SECRET_KEY"] == GOOD_KEY
