"""Jinja's ``_()`` marks its result safe HTML, so it may only be given a literal msgid: a variable
passed to it (a query-string value, a stored label) would be rendered unescaped. Data labels go
through ``tr()``, which autoescaping still escapes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "templates"
NON_LITERAL = re.compile(r"(?<![\w.])_\(\s*(?!['\"])")


def non_literal_calls(text: str) -> list[str]:
    return [text[m.start():m.start() + 40].splitlines()[0] for m in NON_LITERAL.finditer(text)]


@pytest.mark.parametrize(("source", "found"), [
    ("{{ _('保存') }}", False),
    ('{{ _("保存") }}', False),
    ("{{ _('共 %(n)d 项', n=3) }}", False),
    ("{{ _(label) }}", True),
    ("{{ _( what ) }}", True),
    ("{{ tr(label) }}", False),
    ("{{ my_(label) }}", False),
])
def test_the_rule(source, found):
    assert bool(non_literal_calls(source)) is found


def test_templates_give_gettext_literals_only():
    offenders = {str(p.relative_to(TEMPLATES)): calls for p in sorted(TEMPLATES.rglob("*.html"))
                 if (calls := non_literal_calls(p.read_text(encoding="utf-8")))}
    assert offenders == {}, "use tr(...) for data labels"
