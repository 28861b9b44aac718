"""Form pieces shared by several areas: Chinese messages, decimal parsing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation

from wtforms import StringField
from wtforms.validators import ValidationError


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
        raise ValueError("请输入数字，例如 12.5。") from None
    if not value.is_finite():
        raise ValueError("请输入有限的数字。")
    if value < 0 and not allow_negative:
        raise ValueError("该指标不能为负数。")
    if abs(value) > max_abs:
        raise ValueError(f"数值超出合理范围（绝对值不超过 {max_abs:,}）。")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise ValueError(f"最多保留 {places} 位小数。")
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


DATE_MESSAGE = "日期格式应为 年-月-日，例如 2025-12-05。"


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
            raise ValidationError(DATE_MESSAGE) from None


def length_message(maximum: int) -> str:
    return f"不能超过 {maximum} 个字。"
