"""Reading one uploaded file with a size limit, before Werkzeug spools an oversized body."""

from __future__ import annotations

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

# Room for the multipart envelope and the other form fields around the file itself.
ENVELOPE = 64 * 1024


def read_upload(limit: int, field: str) -> tuple[tuple[str, bytes] | None, bool]:
    """((file name, bytes) or None, refused): refused when the request or the file is over `limit`.

    A body announced larger than the limit is refused without being read; a body that turns out larger
    (no Content-Length) stops Werkzeug's parser. Call before the form reads request.files."""
    if request.method != "POST":
        return None, False
    if request.content_length is not None and request.content_length > limit + ENVELOPE:
        return None, True
    request.max_content_length = limit + ENVELOPE
    try:
        upload = request.files.get(field)
    except RequestEntityTooLarge:
        return None, True
    if upload is None or not upload.filename:
        return None, False
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        return None, True
    return (upload.filename, data), False
