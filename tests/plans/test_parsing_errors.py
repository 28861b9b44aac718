"""Bad input: PlanParseError with a Chinese message saying what was not found."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pytest

from app.plans.parsing import PlanParseError, parse_document


@pytest.mark.parametrize("data", [b"", b"  \r\n\n\t ", b"\xef\xbb\xbf\r\n"])
def test_empty_file(data: bytes) -> None:
    with pytest.raises(PlanParseError, match="文件为空"):
        parse_document(data, filename="plan.txt")


def test_empty_docx(tmp_path: Path) -> None:
    path = tmp_path / "empty.docx"
    docx.Document().save(path)
    with pytest.raises(PlanParseError, match="文件为空"):
        parse_document(path)


@pytest.mark.parametrize("data", [bytes(range(128, 256)) * 20, b"\x00\x01\x02\x03binary\x00" * 50])
def test_unreadable_encoding(data: bytes) -> None:
    with pytest.raises(PlanParseError, match="无法识别文件编码"):
        parse_document(data, filename="plan.txt")


def test_no_numbered_tasks() -> None:
    text = "关于做好就业工作的通知\n各单位要高度重视，认真落实。\n2025年2月13日\n"
    with pytest.raises(PlanParseError, match="未找到编号的任务"):
        parse_document(text.encode("gb18030"), filename="plan.txt")


def test_corrupt_docx() -> None:
    data = (Path(__file__).resolve().parents[1] / "data" / "plans" / "nmg-hrss-skills-2025.docx").read_bytes()
    with pytest.raises(PlanParseError, match="Word 文件已损坏"):
        parse_document(data[: len(data) // 2], filename="plan.docx")


def test_zip_that_is_not_a_docx() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a word file")
    with pytest.raises(PlanParseError, match="Word 文件已损坏"):
        parse_document(buffer.getvalue(), filename="plan.docx")


def test_docx_name_on_a_text_file() -> None:
    with pytest.raises(PlanParseError, match="Word 文件已损坏"):
        parse_document("1.任务。".encode(), filename="plan.docx")


def test_password_protected_docx() -> None:
    # an encrypted .docx is an OLE compound file, not a ZIP
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1024
    with pytest.raises(PlanParseError, match="受密码保护"):
        parse_document(data, filename="plan.docx")


def test_pdf_is_refused_with_advice() -> None:
    with pytest.raises(PlanParseError, match="不支持直接读取 PDF"):
        parse_document(b"%PDF-1.7\n%...", filename="plan.pdf")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PlanParseError, match="找不到文件"):
        parse_document(tmp_path / "nope.txt")
