"""Tests of aftersales.catalog.reasons: stored import reasons shown in the reader's language."""

import re

from django.utils import translation

from aftersales.catalog.reasons import MESSAGES, FieldInvalid, reason, reason_text


def _placeholders(text: str) -> list[str]:
    return sorted(re.findall(r"%\(\w+\)[sdr]", text))


def test_reason_stores_code_english_message_id_and_params() -> None:
    with translation.override("zh-hans"):
        stored = reason("too_long", "text_too_long", n=50)

    assert stored == {
        "code": "too_long",
        "message": "At most 50 characters, please.",
        "message_id": "text_too_long",
        "params": {"n": 50},
    }


def test_reason_text_follows_the_active_language() -> None:
    stored = reason(
        "duplicate_in_file", "duplicate_in_file", model="BCD-520", serial="FR1", rows="2, 3"
    )

    with translation.override("zh-hans"):
        chinese = reason_text(stored)
    with translation.override("en"):
        english = reason_text(stored)

    assert chinese == "BCD-520 FR1 出现在第 2, 3 行；每台机器只能保留一行。"
    assert english == "BCD-520 FR1 appears in rows 2, 3; keep one row per unit."


def test_reason_text_falls_back_to_the_stored_message() -> None:
    old = {"code": "invalid_amount", "message": "Stored before message ids."}
    unknown = {**old, "message_id": "no_such_id", "params": {}}
    bad_params = {**old, "message_id": "text_too_long", "params": {"x": 1}}

    with translation.override("zh-hans"):
        assert reason_text(old) == "Stored before message ids."
        assert reason_text(unknown) == "Stored before message ids."
        assert reason_text(bad_params) == "Stored before message ids."


def test_field_invalid_message_is_translated_when_raised() -> None:
    with translation.override("zh-hans"):
        error = FieldInvalid("serial_number", "required", "serial_required")

    assert (error.code, error.details, error.status_code) == (
        "required",
        {"field": "serial_number"},
        422,
    )
    assert error.message == "请填写序列号。"


def test_every_message_has_a_chinese_translation_with_the_same_placeholders() -> None:
    with translation.override("zh-hans"):
        for message_id, english in MESSAGES.items():
            chinese = translation.gettext(english)
            assert chinese != english, message_id
            assert _placeholders(chinese) == _placeholders(english), message_id
