"""A minimal HTTP client for the load test: stdlib http.client, one cookie jar per simulated user,
every request timed and recorded (start, end, page, status or error)."""

from __future__ import annotations

import http.client
import re
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
VERSION_RE = re.compile(r'name="version"[^>]*value="(\d*)"|value="(\d*)"[^>]*name="version"')
FIGURE_RE = re.compile(r'name="(figure_\d+)"')
CONFLICT_TEXT = "已被他人"  # 已被他人修改 (stale version) or 已被他人同时创建 (both created it)


@dataclass
class Record:
    t0: float
    t1: float
    page: str
    status: int | None  # None: connection error or timeout
    error: str = ""


@dataclass
class Recorder:
    records: list[Record] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, rec: Record) -> None:
        with self.lock:
            self.records.append(rec)


def first(match) -> str | None:
    if not match:
        return None
    return next((g for g in match.groups() if g is not None), None)


class Session:
    """One browser: cookies, a new TCP connection per request (gunicorn's sync workers close it)."""

    def __init__(self, host: str, port: int, recorder: Recorder | None, timeout: float = 30.0):
        self.host, self.port, self.recorder, self.timeout = host, port, recorder, timeout
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, page: str, form: dict | None = None) -> tuple[int | None, dict, str]:
        headers = {"User-Agent": "pt-bench-load", "Connection": "close"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        t0 = time.monotonic()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            text = resp.read().decode("utf-8", "replace")
            for name, value in resp.getheaders():
                if name.lower() == "set-cookie":
                    pair = value.split(";", 1)[0]
                    k, _, v = pair.partition("=")
                    if v == "" or "expires=thu, 01 jan 1970" in value.lower():
                        self.cookies.pop(k.strip(), None)
                    else:
                        self.cookies[k.strip()] = v.strip()
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
            status = resp.status
            err = ""
        except Exception as exc:
            status, hdrs, text, err = None, {}, "", f"{type(exc).__name__}: {exc}"
        finally:
            conn.close()
        if self.recorder is not None:
            self.recorder.add(Record(t0, time.monotonic(), page, status, err))
        return status, hdrs, text

    def login(self, username: str, password: str) -> bool:
        status, _, text = self.request("GET", "/login", "GET /login")
        token = first(CSRF_RE.search(text)) if status == 200 else None
        if not token:
            return False
        status, hdrs, _ = self.request("POST", "/login", "POST /login",
                                       {"csrf_token": token, "username": username, "password": password})
        return status == 302 and "/login" not in urlsplit(hdrs.get("location", "")).path


def parse_report_form(text: str) -> tuple[str | None, str | None, list[str]]:
    """csrf token, version, figure field names of a report form page."""
    return first(CSRF_RE.search(text)), first(VERSION_RE.search(text)), sorted(set(FIGURE_RE.findall(text)))
