"""The draft pages: upload an issued document, check the draft beside the source, correct it, import.

Over HTTP, as a person would: the corrections are posted from the fields the page rendered."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.extensions import db
from app.plans.draft_models import PlanDraft
from app.plans.drafts import MAX_UPLOAD_BYTES, path_at_line, units_from_text, units_to_text
from app.plans.models import Assignment, Indicator, Plan, Task
from app.plans.services import find_plan, get_or_create_unit, import_plan_file, plan_as_dict
from app.units.models import Unit
from tests.conftest import NMG_PLAN
from tests.plans.test_parse_command import (
    BAD_DOCUMENTS,
    NMG_DOCUMENT,
    differences,
    hand_written_fields,
    plan_fields,
)

MINI_DOCUMENT = """呼和浩特市人民政府办公室关于印发呼和浩特市稳就业工作方案的通知
呼政办发〔2025〕12号
各旗、县、区人民政府，市各委、办、局：
现将《呼和浩特市稳就业工作方案》印发给你们，请认真贯彻落实。
呼和浩特市人民政府办公室
2025年3月1日
呼和浩特市稳就业工作方案
一、主要目标
2025年全市城镇新增就业3万人以上。
二、重点任务
（一）扩大就业
1.稳定企业岗位。支持企业稳岗扩岗，新增岗位5000个以上。（责任单位：市人力资源社会保障局、市发展改革委）
2.加强技能培训。开展职业技能培训2万人次以上。（责任单位：市人力资源社会保障局、市教育局、市就业服务中心）
三、保障措施
建立月调度、季分析工作机制。
"""
MINI_UNITS = ["呼和浩特市人力资源和社会保障局", "呼和浩特市发展和改革委员会", "呼和浩特市教育局", "呼和浩特市公共就业服务中心"]


class FormFields(HTMLParser):
    """The fields a browser would post from the page's form with id draft-form (or the first form)."""

    def __init__(self, form_id: str | None = "draft-form") -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.fields: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None
        self._first_option: str | None = None

    def handle_starttag(self, tag: str, attrs_list: list) -> None:
        attrs = dict(attrs_list)
        if tag == "form":
            self.inside = self.form_id is None or attrs.get("id") == self.form_id
        if not self.inside:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("submit", "button", "file"):
                return
            if kind == "checkbox":
                if "checked" in attrs:
                    self.fields[name] = attrs.get("value", "y")
            else:
                self.fields[name] = attrs.get("value") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""
        elif tag == "select" and name:
            self._select, self._first_option = name, None
        elif tag == "option" and self._select:
            if self._first_option is None:
                self._first_option = attrs.get("value", "")
            if "selected" in attrs:
                self.fields[self._select] = attrs.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select" and self._select:
            self.fields.setdefault(self._select, self._first_option or "")
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] += data


def page_fields(html: str) -> dict[str, str]:
    parser = FormFields()
    parser.feed(html)
    fields = parser.fields
    for name, value in fields.items():  # a browser drops the newline that follows <textarea>
        if value.startswith(("\r\n", "\n")):
            fields[name] = value[2:] if value.startswith("\r\n") else value[1:]
    return fields


def upload(client, data: bytes, name: str = "plan.txt"):
    return client.post("/plans/drafts/new", data={"file": (BytesIO(data), name)}, content_type="multipart/form-data")


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def audit_actions() -> list[str]:
    """Audit events of drafts and plans (log-ins and accounts left out)."""
    return list(db.session.execute(select(AuditEvent.action).where(AuditEvent.entity_type.in_(("plan_draft", "plan")))
                                   .order_by(AuditEvent.seq)).scalars())


def indicator_index(fields: dict[str, str], task: int, key: str) -> int:
    for name, value in fields.items():
        m = re.fullmatch(rf"tasks-{task}-indicators-(\d+)-key", name)
        if m and value == key:
            return int(m.group(1))
    raise AssertionError(f"no indicator {key} in task index {task}")


@pytest.fixture
def office(factory, client, login):
    factory.user("staff", role="staff")
    factory.user("staff2", role="staff")
    factory.user("admin", role="admin")
    factory.user("auditor", role="auditor")
    return login(client, "staff")


@pytest.fixture
def mini_units(ctx):
    for name in MINI_UNITS:
        get_or_create_unit(name, "department")
    db.session.commit()


def open_draft(client, data: bytes = MINI_DOCUMENT.encode(), name: str = "plan.txt") -> tuple[str, str]:
    response = upload(client, data, name)
    assert response.status_code == 302, response.text
    page = client.get(response.location)
    assert page.status_code == 200
    return response.location, page.text


# --- who may use the pages ---------------------------------------------------------------------

def test_only_office_staff_draft_plans(app, office, login):
    assert "从公文起草方案" in office.get("/plans/").text
    assert office.get("/plans/drafts/new").status_code == 200
    for username in ("auditor",):
        other = login(app.test_client(), username)
        assert "从公文起草方案" not in other.get("/plans/").text
        assert other.get("/plans/drafts/new").status_code == 403
        assert upload(other, MINI_DOCUMENT.encode()).status_code == 403
    assert count(PlanDraft) == 0


def test_liaison_gets_403(app, factory, login, mini_units):
    factory.user("lx", role="liaison", unit=MINI_UNITS[0])
    client = login(app.test_client(), "lx")
    assert client.get("/plans/drafts/new").status_code == 403
    assert upload(client, MINI_DOCUMENT.encode()).status_code == 403
    assert count(PlanDraft) == 0


def test_a_draft_belongs_to_the_person_who_uploaded_it(app, office, login, mini_units):
    url, _ = open_draft(office)
    for username in ("staff2", "admin"):
        other = login(app.test_client(), username)
        assert other.get(url).status_code == 404
        assert other.get(url + "/plan.yaml").status_code == 404
        assert other.post(url, data={"action": "import"}).status_code == 404
        assert other.post(url + "/discard").status_code == 404
    auditor = login(app.test_client(), "auditor")
    assert auditor.get(url).status_code == 403
    assert office.get("/plans/drafts/" + "0" * 32).status_code == 404
    assert office.get("/plans/drafts/not-a-token").status_code == 404
    assert count(Plan) == 0


# --- upload and the side-by-side page -----------------------------------------------------------

def test_upload_keeps_the_draft_on_the_server_and_shows_it_beside_the_source(office, ctx):
    response = upload(office, NMG_DOCUMENT.read_bytes(), "内政发〔2025〕7号.txt")
    assert response.status_code == 302
    draft = db.session.execute(select(PlanDraft)).scalar_one()
    assert response.location == f"/plans/drafts/{draft.token}"
    assert re.fullmatch(r"[0-9a-f]{32}", draft.token)
    assert draft.user.username == "staff" and draft.status == "open" and draft.filename == "内政发〔2025〕7号.txt"
    assert "title: 推动产业与就业互促共进" in draft.yaml_text
    assert draft.source_spans["1"] == [51, 71]
    assert audit_actions() == ["plan_draft.create"]
    assert count(Plan) == 0

    page = office.get(response.location).text
    # the source, line by line, each task's lines marked with its number
    assert '<div id="L51" class="src-line in-task t1" data-task="1"' in page
    assert '<div id="L72" class="src-line">' in page  # between tasks 1 and 2
    assert len(re.findall(r'class="src-line in-task[^"]*" data-task="1"', page)) == 71 - 51 + 1
    # each task of the form links to its first line; the script is a static file of this host
    assert 'href="#L51" data-task="1" data-first="51"' in page
    assert "原文第 51–71 行" in page
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts == ['<script src="/static/plan-draft.js" defer>']
    assert re.search(r"<script[^>]*>\s*[^<\s]", page) is None  # no inline code
    assert "plan-draft.css" in page
    # the draft in the form, the warnings of the parser, the names to confirm
    fields = page_fields(page)
    assert fields["code"] == "内政发〔2025〕7号" and fields["slug"] == "nmg-2025-7"
    assert fields["issued"] == "2025-02-13"
    assert fields["tasks-0-title"] == "推动产业与就业互促共进"
    assert fields["tasks-0-units"].splitlines() == ["自治区发展改革委", "自治区商务厅", "自治区自然资源厅", "自治区能源局",
                                                     "自治区人力资源社会保障厅", "单位组：各行业主管部门"]
    assert fields["tasks-1-indicators-0-target"] == "15" and fields["tasks-1-indicators-0-unit"] == "万个"
    assert "本文有删减" in page
    assert "确认单位" in page and 'value="内蒙古税务局"' in page


def test_upload_page_lists_my_open_drafts(office, mini_units):
    url, _ = open_draft(office)
    page = office.get("/plans/drafts/new").text
    assert url in page and "我未完成的草稿" in page


@pytest.mark.parametrize(("name", "data", "message"), BAD_DOCUMENTS, ids=[b[0] for b in BAD_DOCUMENTS])
def test_bad_upload_says_what_was_not_found_and_creates_nothing(office, ctx, name, data, message):
    response = upload(office, data, name)
    assert response.status_code == 422
    assert message in response.text
    assert 'class="error"' in response.text  # next to the file field
    assert count(PlanDraft) == 0 and count(Plan) == 0
    assert audit_actions() == []


def test_upload_without_a_file_or_too_large(office, ctx):
    response = office.post("/plans/drafts/new", data={}, content_type="multipart/form-data")
    assert response.status_code == 422 and "请选择要上传的文件" in response.text
    big = MINI_DOCUMENT.encode() + b" " * (MAX_UPLOAD_BYTES + 100 * 1024)
    response = upload(office, big)
    assert response.status_code == 413 and "文件过大" in response.text
    just_over = MINI_DOCUMENT.encode() + b" " * (MAX_UPLOAD_BYTES - len(MINI_DOCUMENT.encode()) + 1)
    response = upload(office, just_over)
    assert response.status_code == 422 and "文件过大" in response.text
    assert count(PlanDraft) == 0


def test_gb18030_and_docx_uploads(office, ctx):
    assert upload(office, MINI_DOCUMENT.encode("gb18030")).status_code == 302
    docx = Path(__file__).resolve().parents[1] / "data" / "plans" / "nmg-hrss-skills-2025.docx"
    response = upload(office, docx.read_bytes(), "skills.docx")
    assert response.status_code == 302
    assert count(PlanDraft) == 2
    assert db.session.execute(select(PlanDraft.kind).order_by(PlanDraft.id)).scalars().all() == ["txt", "docx"]


# --- correcting and importing -----------------------------------------------------------------

def test_the_nmg_draft_imported_from_the_page_equals_the_hand_written_plan(app, office, ctx):
    url, page = open_draft(office, NMG_DOCUMENT.read_bytes())
    fields = page_fields(page)
    fields.update({"action": "import", "confirm_all_new": "y"})
    response = office.post(url, data=fields)
    assert response.status_code == 302, re.findall(r'role="alert">([^<]*)', response.text)
    assert response.location == "/plans/nmg-2025-7"
    parsed = plan_fields(plan_as_dict(find_plan("nmg-2025-7")))
    assert audit_actions()[-1] == "plan_draft.import"
    assert "plan.create" in audit_actions()
    draft = db.session.execute(select(PlanDraft)).scalar_one()
    assert draft.status == "imported" and draft.plan.slug == "nmg-2025-7"
    assert differences(parsed, hand_written_fields(app)) == []


def test_corrections_reach_the_imported_plan(office, ctx, mini_units):
    url, page = open_draft(office)
    fields = page_fields(page)
    assert fields["tasks-1-units"].splitlines() == ["呼和浩特市人力资源和社会保障局", "呼和浩特市教育局", "市就业服务中心"]
    fields.update({
        "action": "import", "slug": "hhht-2025-jobs", "title": "呼和浩特市稳就业工作方案（修订）", "issued": "2025年3月2日",
        "tasks-0-title": "稳定企业就业岗位",
        # 教育局 leads together with 人社局; the service centre is the system's 公共就业服务中心
        "tasks-1-units": "呼和浩特市人力资源和社会保障局\n呼和浩特市教育局（牵头）\n市就业服务中心\n",
        "confirm-0-match": "呼和浩特市公共就业服务中心",
    })
    assert fields["confirm-0-name"] == "市就业服务中心"
    row = indicator_index(fields, 0, "t1-1")
    fields[f"tasks-0-indicators-{row}-target"] = "6,000"
    new = row + 1  # the blank row adds an indicator
    fields.update({f"tasks-0-indicators-{new}-name": "稳岗返还企业", f"tasks-0-indicators-{new}-target": "300",
                   f"tasks-0-indicators-{new}-unit": "家", f"tasks-0-indicators-{new}-due": "2025-06-30",
                   f"tasks-0-indicators-{new}-comparator": "<="})
    fields["tasks-1-indicators-0-delete"] = "y"
    response = office.post(url, data=fields)
    assert response.status_code == 302, re.findall(r'role="alert">([^<]*)', response.text)
    plan = find_plan("hhht-2025-jobs")
    assert plan.title == "呼和浩特市稳就业工作方案（修订）" and str(plan.issued) == "2025-03-02"
    assert str(plan.reporting_start) == "2025-03-01"
    tasks = {t.number: t for t in plan.tasks}
    assert tasks[1].title == "稳定企业就业岗位"
    roles = {a.unit.name: a.role for a in tasks[2].assignments}
    assert roles == {"呼和浩特市人力资源和社会保障局": "lead", "呼和浩特市教育局": "lead", "呼和浩特市公共就业服务中心": "co"}
    assert db.session.scalar(select(Unit).where(Unit.name == "市就业服务中心")) is None
    indicators = {i.name: i for i in db.session.execute(select(Indicator).where(Indicator.plan_id == plan.id)).scalars()}
    assert indicators["新增岗位"].target == 6000
    assert (indicators["稳岗返还企业"].comparator, indicators["稳岗返还企业"].unit) == ("<=", "家")
    assert str(indicators["稳岗返还企业"].due) == "2025-06-30" and indicators["稳岗返还企业"].task_id == tasks[1].id
    assert indicators["稳岗返还企业"].key == "t1-2"
    assert not any(i.task_id == tasks[2].id for i in indicators.values())
    assert "城镇新增就业" in indicators  # the plan target, untouched


def test_save_keeps_corrections_on_the_server(office, ctx, mini_units):
    url, page = open_draft(office)
    fields = page_fields(page)
    fields.update({"action": "save", "tasks-0-title": "稳定企业就业岗位", "confirm-0-create": "y"})
    response = office.post(url, data=fields)
    assert response.status_code == 302 and response.location == url
    draft = db.session.execute(select(PlanDraft)).scalar_one()
    assert "title: 稳定企业就业岗位" in draft.yaml_text
    assert draft.confirmed_new == ["市就业服务中心"]
    assert audit_actions() == ["plan_draft.create", "plan_draft.update"]
    again = page_fields(office.get(url).text)
    assert again["tasks-0-title"] == "稳定企业就业岗位"
    assert again["confirm-0-create"] == "y"
    assert count(Plan) == 0
    # the YAML download is the stored draft
    download = office.get(url + "/plan.yaml")
    assert download.status_code == 200 and download.mimetype == "text/yaml"
    assert "title: 稳定企业就业岗位" in download.text


def test_bad_corrections_are_shown_next_to_their_fields_and_nothing_is_written(office, ctx, mini_units):
    url, page = open_draft(office)
    before = db.session.execute(select(PlanDraft.yaml_text)).scalar_one()
    fields = page_fields(page)
    fields.update({
        "action": "import", "slug": "Bad Slug", "issued": "2025-13-45", "tasks-0-title": "",
        "tasks-0-units": "呼和浩特市教育局\n呼和浩特市教育局", "tasks-0-indicators-0-target": "很多",
        "tasks-0-indicators-0-due": "明年", "confirm-0-match": "不存在的单位",
    })
    for action in ("import", "save"):
        fields["action"] = action
        response = office.post(url, data=fields)
        assert response.status_code == 422
        text = response.text
        for message in ("标识只能用小写英文字母", "日期不存在", "请填写任务标题", "单位“呼和浩特市教育局”填了两次",
                        "请输入数字", "请按“2025-02-13”的格式填写日期", "系统中没有名为“不存在的单位”的单位"):
            assert message in text, message
        assert "未保存，也未导入" in text
        # the person's input is kept in the form
        assert page_fields(text)["slug"] == "Bad Slug"
    assert count(Plan) == 0
    assert db.session.execute(select(PlanDraft.yaml_text)).scalar_one() == before
    assert audit_actions() == ["plan_draft.create"]


def test_unconfirmed_units_must_be_confirmed_before_import(office, ctx, mini_units):
    url, page = open_draft(office)
    assert 'class="badge unconfirmed">市就业服务中心' in page
    fields = page_fields(page)
    fields["action"] = "import"
    response = office.post(url, data=fields)
    assert response.status_code == 422
    assert "请确认单位“市就业服务中心”" in response.text
    # a name typed in now needs a decision too
    fields["tasks-0-units"] += "\n市新设单位"
    fields["confirm-0-create"] = "y"
    response = office.post(url, data=fields)
    assert response.status_code == 422 and "请确认单位“市新设单位”" in response.text
    assert 'value="市新设单位"' in response.text  # a row to decide it
    assert count(Plan) == 0
    fields["confirm_all_new"] = "y"
    response = office.post(url, data=fields)
    assert response.status_code == 302, re.findall(r'role="alert">([^<]*)', response.text)
    plan = find_plan("hhht-2025-12")
    names = set(db.session.execute(select(Unit.name).join(Assignment, Assignment.unit_id == Unit.id)
                                   .where(Assignment.plan_id == plan.id)).scalars())
    assert {"市就业服务中心", "市新设单位"} <= names


def test_required_fields_and_units_before_import(office, ctx, mini_units):
    url, page = open_draft(office)
    fields = page_fields(page)
    fields.update({"action": "import", "code": " ", "issuer": "", "issued": "", "tasks-0-units": "",
                   "confirm_all_new": "y"})
    response = office.post(url, data=fields)
    assert response.status_code == 422
    for message in ("请填写发文字号", "请填写发文机关", "请填写成文日期", "请至少填写一个责任单位"):
        assert message in response.text, message
    # an incomplete draft may still be saved
    fields["action"] = "save"
    assert office.post(url, data=fields).status_code == 302
    assert count(Plan) == 0


def test_import_refuses_a_plan_that_exists(office, ctx):
    import_plan_file(NMG_PLAN)
    url, page = open_draft(office, NMG_DOCUMENT.read_bytes())
    fields = page_fields(page)
    fields.update({"action": "import", "slug": "nmg-2025-employment"})
    response = office.post(url, data=fields)
    assert response.status_code == 422
    assert "已有方案“内蒙古自治区就业促进行动实施方案”" in response.text
    assert count(Plan) == 1 and count(Task) == 19
    assert db.session.execute(select(PlanDraft.status)).scalar_one() == "open"


def test_imported_draft_leads_to_its_plan(office, ctx, mini_units):
    url, page = open_draft(office)
    fields = page_fields(page) | {"action": "import", "confirm_all_new": "y"}
    assert office.post(url, data=fields).status_code == 302
    again = office.get(url)
    assert again.status_code == 302 and again.location == "/plans/hhht-2025-12"
    assert office.post(url, data=fields).status_code == 302
    assert count(Plan) == 1
    assert url not in office.get("/plans/drafts/new").text


def test_tampered_form_is_refused(office, ctx, mini_units):
    url, page = open_draft(office)
    fields = page_fields(page)
    fields.update({"action": "import", "tasks-7-title": "多出来的任务", "tasks-0-indicators-0-key": "plan-1"})
    response = office.post(url, data=fields)
    assert response.status_code == 422 and "表单与草稿不一致" in response.text
    assert office.post(url, data={"action": "import"}).status_code == 422
    assert count(Plan) == 0


def test_discard(office, ctx, mini_units):
    url, _ = open_draft(office)
    response = office.post(url + "/discard")
    assert response.status_code == 302
    assert office.get(url).status_code == 404
    assert audit_actions() == ["plan_draft.create", "plan_draft.discard"]


# --- pure helpers --------------------------------------------------------------------------------

def test_units_text_round_trip():
    entries = ["自治区发展改革委", {"name": "自治区商务厅", "role": "lead"}, {"group": "各行业主管部门"}, "内蒙古税务局"]
    text = units_to_text(entries)
    assert text == "自治区发展改革委\n自治区商务厅（牵头）\n单位组：各行业主管部门\n内蒙古税务局"
    parsed, problems = units_from_text(text + "\n\n  ", set())
    assert problems == []
    assert parsed == [("自治区发展改革委", "lead", False), ("自治区商务厅", "lead", False), ("各行业主管部门", "co", True),
                      ("内蒙古税务局", "co", False)]
    # a known group needs no prefix; a first line may be marked co
    parsed, _ = units_from_text("各行业主管部门（配合）\n自治区财政厅", {"各行业主管部门"})
    assert parsed == [("各行业主管部门", "co", True), ("自治区财政厅", "co", False)]


def test_path_at_line_finds_the_field_of_a_plan_file_error():
    text = "id: x\ntasks:\n  - number: 1\n    title: A\n    units:\n      - B\n    indicators:\n      - key: k\n" \
           "        target: many\n"
    assert path_at_line(text, 1) == ("id",)
    assert path_at_line(text, 4) == ("tasks", 0, "title")
    assert path_at_line(text, 6) == ("tasks", 0, "units", 0)
    assert path_at_line(text, 9) == ("tasks", 0, "indicators", 0, "target")


def test_an_indicator_key_posted_twice_gives_two_indicators(office, ctx, mini_units):
    url, page = open_draft(office)
    fields = page_fields(page) | {"action": "import", "confirm_all_new": "y"}
    assert fields["tasks-0-indicators-0-key"] == "t1-1"
    fields.update({"tasks-0-indicators-1-key": "t1-1", "tasks-0-indicators-1-name": "稳岗企业",
                   "tasks-0-indicators-1-target": "20", "tasks-0-indicators-1-unit": "家"})
    response = office.post(url, data=fields)
    assert response.status_code == 302, re.findall(r'role="alert">([^<]*)', response.text)
    keys = db.session.execute(select(Indicator.key, Indicator.name).join(Task, Task.id == Indicator.task_id)
                              .where(Task.number == 1).order_by(Indicator.key)).all()
    assert [tuple(k) for k in keys] == [("t1-1", "新增岗位"), ("t1-2", "稳岗企业")]
