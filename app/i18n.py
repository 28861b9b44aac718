"""Interface languages: the supported list, a marker for msgids kept as constants, and the extractors
that put the labels of the workflow files and of the ``*_LABELS`` constants into the catalogue.

Chinese is the source language (the msgids are the Chinese texts) and the default for everyone; English
is a translation a user switches on for themselves (User.locale). Labels that are data of the
configuration (report states, ladder steps, work statuses) are translated where they are shown, by
passing them through gettext; the extractors below collect them, so ``make i18n`` keeps the catalogue
complete when a policy officer renames a state in workflows/report_states.yaml."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from typing import Any

import yaml

DEFAULT_LOCALE = "zh"
# code → the language's name in itself (a language select shows each in its own script)
LOCALES: dict[str, str] = {"zh": "中文", "en": "English"}
HTML_LANG = {"zh": "zh-CN", "en": "en"}


def N_(text: str) -> str:  # the usual gettext marker name
    """Mark a constant as a msgid without translating it: the caller translates it when it is shown."""
    return text


def supported(locale: str | None) -> bool:
    return locale in LOCALES


def html_lang(locale: object) -> str:
    """The <html lang> of a locale (a babel Locale or a code); a language without a catalogue shows Chinese."""
    code = str(locale or DEFAULT_LOCALE).split("_")[0]
    return HTML_LANG.get(code, HTML_LANG[DEFAULT_LOCALE])


# --- extractors (babel.cfg) -------------------------------------------------------------------------

_LABEL_CONSTANT = re.compile(r"^_?[A-Z][A-Z0-9_]*LABELS$|^COLOURS$")


def extract_yaml_labels(fileobj, keywords, comment_tags, options) -> Iterator[tuple[int, str, str, list[str]]]:
    """Every ``label:`` value of a workflow YAML file, with its line."""
    text = fileobj.read().decode(options.get("encoding", "utf-8"))
    root = yaml.compose(text)
    yield from _yaml_labels(root)


def _yaml_labels(node: Any) -> Iterator[tuple[int, str, str, list[str]]]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if (isinstance(key, yaml.ScalarNode) and key.value == "label" and isinstance(value, yaml.ScalarNode)
                    and value.value):
                yield value.start_mark.line + 1, "", value.value, ["label in a workflow file"]
            else:
                yield from _yaml_labels(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _yaml_labels(item)


def extract_python(fileobj, keywords, comment_tags, options) -> Iterator[tuple[int, str, Any, list[str]]]:
    """Babel's Python extractor, plus the string values of module-level ``*_LABELS`` dicts (shown through
    gettext where they are displayed)."""
    from babel.messages.extract import extract_python as babel_python

    source = fileobj.read()
    import io

    yield from babel_python(io.BytesIO(source), keywords, comment_tags, options)
    try:
        tree = ast.parse(source.decode(options.get("encoding", "utf-8")))
    except SyntaxError:  # pragma: no cover - the suite would fail first
        return
    for node in tree.body:
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if not any(isinstance(t, ast.Name) and _LABEL_CONSTANT.match(t.id) for t in targets):
            continue
        if isinstance(value, ast.Dict):
            for v in value.values:
                if isinstance(v, ast.Constant) and isinstance(v.value, str) and _has_cjk(v.value):
                    yield v.lineno, "", v.value, ["label constant"]


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


# Names made outside a *_LABELS constant or a workflow file and shown through gettext where displayed
# (app/reminders/notices.py kind_label).
SHOWN_NAMES = (N_("人工催办"), N_("审计日志链头"))
