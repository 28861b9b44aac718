"""The committed English catalogue: compiled (.mo up to date with .po), complete for the navigation, the
account pages and the liaison's pages, and with the same placeholders as the Chinese msgids."""

from __future__ import annotations

import gettext
import io
import re
import subprocess
import sys

import pytest

from app.i18n import extract_python, extract_yaml_labels, html_lang
from tests.i18n.catalogue import EN_MO, LIAISON_SOURCES, ROOT, TRANSLATIONS, english_catalogue, msgids_of

PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def _mo_catalogue(path) -> dict:
    with open(path, "rb") as fh:
        return dict(gettext.GNUTranslations(fh)._catalog)


def test_committed_mo_is_compiled_from_the_committed_po(tmp_path):
    out = tmp_path / "messages.mo"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "compile", "-i",
                    str(TRANSLATIONS / "en/LC_MESSAGES/messages.po"), "-o", str(out), "-l", "en"],
                   check=True, capture_output=True, cwd=ROOT)
    fresh, committed = _mo_catalogue(out), _mo_catalogue(EN_MO)
    assert fresh == committed, "app/translations/en/LC_MESSAGES/messages.mo is stale: run `make i18n`"


@pytest.mark.parametrize("source", LIAISON_SOURCES)
def test_every_message_of_the_liaison_pages_and_navigation_has_english(source):
    catalogue = english_catalogue()
    untranslated = sorted(m for m in msgids_of(source)
                          if catalogue.get(m) is None or not catalogue.get(m).string or catalogue.get(m).fuzzy)
    assert untranslated == [], f"{source}: no English for {untranslated} (run `make i18n`, then translate)"


def test_translations_keep_the_placeholders():
    wrong = [(m.id, m.string) for m in english_catalogue()
             if m.id and m.string and sorted(PLACEHOLDER.findall(m.id)) != sorted(PLACEHOLDER.findall(m.string))]
    assert wrong == []


def test_no_translation_is_left_fuzzy_or_obsolete():
    catalogue = english_catalogue()
    assert [m.id for m in catalogue if m.id and m.fuzzy] == []
    assert list(catalogue.obsolete) == []


@pytest.mark.parametrize(("yaml_text", "expected"), [
    ("states:\n  draft: {label: 草稿}\n  submitted: {label: 已报送, final: true}\n", [(2, "草稿"), (3, "已报送")]),
    ("transitions:\n  - {name: submit, label: 报送}\n  - name: accept\n    label: 审核通过\n",
     [(2, "报送"), (4, "审核通过")]),
    ("steps:\n  - name: remind\n    note: 不是 label\n", []),
])
def test_workflow_labels_are_extracted_with_their_lines(yaml_text, expected):
    found = [(line, msg) for line, _f, msg, _c in extract_yaml_labels(io.BytesIO(yaml_text.encode()), [], [], {})]
    assert found == expected


@pytest.mark.parametrize(("source", "expected"), [
    ('STATUS_LABELS = {"a": "未启动", "b": "推进中"}\n', {"未启动", "推进中"}),
    ('COLOURS: dict[str, str] = {"green": "绿灯"}\n', {"绿灯"}),
    ('OTHER = {"a": "不是标签"}\nX_LABELS = {"k": "code-only"}\n', set()),
    ('from flask_babel import gettext\nMSG = gettext("请选择。")\n', {"请选择。"}),
])
def test_label_constants_and_gettext_calls_are_extracted(source, expected):
    keywords = {"gettext": None, "_": None, "N_": None, "lazy_gettext": None}
    found = {msg for _l, _f, msg, _c in extract_python(io.BytesIO(source.encode()), keywords, [], {})}
    assert found == expected


def test_the_real_report_states_are_msgids():
    assert {"草稿", "已报送", "已退回", "已通过", "报送", "审核通过", "退回修改"} <= msgids_of(
        "workflows/report_states.yaml")


@pytest.mark.parametrize(("locale", "lang"), [("zh", "zh-CN"), ("en", "en"), (None, "zh-CN"), ("zh_Hans", "zh-CN"), ("fr", "zh-CN")])
def test_html_lang(locale, lang):
    assert html_lang(locale) == lang
