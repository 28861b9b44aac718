"""End-to-end fixtures: the app served on 127.0.0.1 by a real HTTP server in a thread, with its
own SQLite database, and Debian's Chromium driven through Playwright (no browser download).

Outside CI the browser tests skip with a clear message when /usr/bin/chromium is absent; in CI
(`CI=true`) a missing browser is an error, since .ci/run installs it."""

from __future__ import annotations

import os
import re
import shutil
import threading
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "e2e"
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]


def _have_browser() -> bool:
    return Path(CHROMIUM).exists() or shutil.which("chromium") is not None


@pytest.fixture(scope="session")
def browser():
    if not _have_browser():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}: .ci/run should have installed the 'chromium' package")
        pytest.skip(f"Chromium not found at {CHROMIUM}: install Debian's 'chromium' package to run browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
                              args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """The app on a free loopback port, with the mini plan, accounts and a frozen date."""
    from werkzeug.serving import make_server

    from tests.conftest import MINI_PLAN, make_app

    folder = tmp_path_factory.mktemp("live")
    os.environ.setdefault("INSTANCE_PATH", str(tmp_path_factory.mktemp("instance")))
    app = make_app(f"sqlite:///{folder / 'live.db'}", WTF_CSRF_ENABLED=True)
    with app.app_context():
        from flask_migrate import upgrade

        from app.auth.services import create_user
        from app.extensions import db
        from app.plans.services import get_or_create_unit, import_plan_file
        from app.units.models import UnitGroup
        from app.units.services import set_group_members, set_liaison

        upgrade(revision="heads")
        import_plan_file(MINI_PLAN)
        group = db.session.query(UnitGroup).filter_by(name="各行业主管部门").one()
        set_group_members(group, [get_or_create_unit("自治区商务厅", "department").id])
        from app.units.models import Unit

        unit = db.session.query(Unit).filter_by(name="自治区工业和信息化厅").one()
        liaison = create_user("lx-gxt", "工信厅联络员", "liaison", "e2e-pass-123", email="gxt@example.org",
                              unit_id=unit.id)
        set_liaison(unit, liaison, None)
        create_user("staff1", "王晓东", "staff", "e2e-pass-123", email="staff1@example.org")
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_port}", "app": app}
    server.shutdown()


class Shots:
    """Writes numbered screenshots of each step under test-output/e2e/<test>/."""

    def __init__(self, name: str):
        self.folder = OUTPUT / re.sub(r"[^\w\[\]-]+", "_", name)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.n = 0

    def __call__(self, page, label: str) -> Path:
        self.n += 1
        path = self.folder / f"{self.n:02d}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shots(request):
    return Shots(request.node.name)
