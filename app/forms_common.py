"""Form pieces shared by several areas: Chinese messages, decimal parsing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import LazyString, gettext, lazy_gettext
from wtforms import StringField
from wtforms.validators import ValidationError

from .i18n import N_


def parse_decimal(raw: str | None, *, allow_negative: bool, max_abs: Decimal, places: int = 4) -> Decimal | None:
    """Parse a figure typed by a person: '1,234.5', ' 12 ' and full-width digits are accepted.

    Returns None for an empty entry; raises ValueError with a Chinese message otherwise."""
    if raw is None:
        return None
    text = raw.strip().translate(str.maketrans("０１２３４５６７８９．－，", "0123456789.-,")).replace(",", "")
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(gettext("请输入数字，例如 12.5。")) from None
    if not value.is_finite():
        raise ValueError(gettext("请输入有限的数字。"))
    if value < 0 and not allow_negative:
        raise ValueError(gettext("该指标不能为负数。"))
    if abs(value) > max_abs:
        raise ValueError(gettext("数值超出合理范围（绝对值不超过 %(max)s）。", max=f"{max_abs:,}"))
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise ValueError(gettext("最多保留 %(n)s 位小数。", n=places))
    return value


class DecimalTextField(StringField):
    """A text input holding a decimal figure; validated by parse_decimal."""

    def __init__(self, *args, allow_negative: bool = False, max_abs: Decimal = Decimal(10**12), **kwargs):
        super().__init__(*args, **kwargs)
        self.allow_negative = allow_negative
        self.max_abs = max_abs
        self.decimal: Decimal | None = None

    def pre_validate(self, form) -> None:
        try:
            self.decimal = parse_decimal(self.data, allow_negative=self.allow_negative, max_abs=self.max_abs)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None


DATE_MESSAGE = N_("日期格式应为 年-月-日，例如 2025-12-05。")  # translated when raised


class DateText(StringField):
    """A date typed as YYYY-MM-DD (full-width digits, 2025/5/31 and 2025年5月31日 accepted); ``.date``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.date: date | None = None

    def pre_validate(self, form) -> None:
        text = (self.data or "").strip().translate(str.maketrans("０１２３４５６７８９－／", "0123456789-/"))
        text = text.replace("年", "-").replace("月", "-").replace("日", "").replace("/", "-")
        self.date = None
        if not text:
            return
        try:
            year, month, day = (int(x) for x in text.split("-"))
            self.date = date(year, month, day)
        except ValueError:
            raise ValidationError(gettext(DATE_MESSAGE)) from None


def length_message(maximum: int) -> LazyString:
    """A Length validator's message; lazy, since forms build it at import time."""
    return lazy_gettext("不能超过 %(n)s 个字。", n=maximum)


def show_error(form: Any, exc: Any) -> None:
    """Put a service's error next to the field it names (`exc.field`), or above the form.

    Areas' service errors carry `message` and an optional `field` (a form field's name)."""
    field = getattr(form, exc.field, None) if getattr(exc, "field", None) else None
    if field is not None:
        field.errors = [*field.errors, exc.message] if isinstance(field.errors, list | tuple) else [exc.message]
    else:
        form.form_errors.append(exc.message)


MAX_ID_DIGITS = 9  # every id fits a 32-bit integer column


def plain_id(raw: str | int | None) -> int | None:
    """An id from a query string or a form: plain ASCII digits that fit an integer column, else None.

    `str.isdigit` alone lets through '²' (int() then raises) and 5,000-digit numbers (the database
    then refuses them); both must be a clear 'not found', never a 500."""
    if isinstance(raw, int):
        return raw
    if raw and raw.isascii() and raw.isdigit() and len(raw) <= MAX_ID_DIGITS:
        return int(raw)
    return None


def page_number(raw: str | None, last: int = 100_000) -> int:
    """A page number from the query string: 1 for anything that is not a plain number up to `last`."""
    page = plain_id(raw)
    return page if page is not None and 0 < page <= last else 1
