"""Helpers of the translation tests: extract the msgids of given sources the way babel.cfg does, and read
the committed English catalogue."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from app.i18n import extract_python, extract_yaml_labels

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "app" / "translations"
EN_PO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
EN_MO = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.mo"
KEYWORDS = {"_": None, "gettext": None, "lazy_gettext": None, "_l": None, "N_": None, "ngettext": (1, 2)}

# The pages a liaison uses (and the rest of the reports area), the navigation and the account pages, and the Python code whose messages,
# labels and validation errors show on them: every msgid of these must have an English translation.
LIAISON_SOURCES = [
    "app/templates/base.html", "app/templates/macros.html", *sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "app/templates/auth").glob("*.html")),
    "app/templates/reports/my_items.html", "app/templates/reports/item.html",
    "app/templates/reports/report_form.html", "app/templates/reports/restate.html",
    "app/templates/reminders/inbox.html", "app/templates/reminders/notice.html",
    "app/templates/reports/import.html", "app/templates/reports/restatements.html", "app/reports/importing.py",
    "app/templates/error.html", "app/errors.py",
    "app/auth/forms.py", "app/auth/routes.py", "app/auth/services.py", "app/auth/throttle.py",
    "app/auth/passwords.py", "app/auth/models.py",
    "app/reports/forms.py", "app/reports/routes.py", "app/reports/figure_routes.py", "app/reports/services.py",
    "app/reports/models.py", "app/reminders/forms.py", "app/reminders/routes.py", "app/forms_common.py",
    "app/plans/models.py", "app/integrity/models.py", "app/reminders/lights.py", "app/i18n.py",
    "workflows/report_states.yaml", "workflows/ladder.yaml", "workflows/cadence.yaml",
]


def msgids_of(relative: str) -> set[str]:
    """The msgids of one source, extracted with the method babel.cfg gives its kind of file."""
    path = ROOT / relative
    if relative.endswith(".html"):
        method, options = "jinja2", {}
    elif relative.endswith(".yaml"):
        method, options = extract_yaml_labels, {}
    else:
        method, options = extract_python, {}
    found = set()
    for _line, message, _comments, _context in extract_from_file(method, str(path), keywords=KEYWORDS,
                                                                 options=options):
        found.add(message if isinstance(message, str) else message[0])
    return found


def english_catalogue() -> Catalog:
    with EN_PO.open("rb") as fh:
        return read_po(fh, locale="en")


def compiled(po: Catalog) -> bytes:
    from babel.messages.mofile import write_mo

    out = io.BytesIO()
    write_mo(out, po)
    return out.getvalue()
