"""Draft a plan file from the issued document (text copied from a PDF, or a Word file).

    result = parse_document("plan.txt", known_units=[...])
    result.draft               # dict in the plan file format (workflows/plans/FORMAT.md)
    result.warnings            # Chinese messages for the person checking the draft
    result.unconfirmed_units   # names kept as written that match no known unit
    result.source_spans        # {task number: (first line, last line)} of the source
    draft_to_yaml(result.draft)

Pure code: no Flask, no database. Bad input raises PlanParseError with a Chinese message.
"""

from .document import ParseResult, parse_document
from .errors import PlanParseError
from .yaml_out import draft_to_yaml

__all__ = ["ParseResult", "PlanParseError", "draft_to_yaml", "parse_document"]
