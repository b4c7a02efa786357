"""aftersales.complaints.letters: templates, placeholders, language fallback; the admin form."""

from typing import Any

import pytest

from aftersales.complaints.admin import LetterTemplateForm
from aftersales.complaints.letters import (
    letter_language,
    letter_render,
    letter_template_errors,
    placeholders_in,
)
from aftersales.complaints.models import LetterTemplate
from aftersales.core.errors import ApplicationError

VALUES = {
    "customer_name": "Li Wei",
    "complaint_number": "SR2026110000123",
    "message": "We are sorry.",
    "compensation": "",
}


@pytest.mark.django_db
class TestRender:
    def test_default_letters_exist_in_both_languages(self) -> None:
        assert set(
            LetterTemplate.objects.filter(code="complaint_answer").values_list(
                "language", flat=True
            )
        ) == {"zh-hans", "en"}
        for template in LetterTemplate.objects.all():
            assert letter_template_errors(subject=template.subject, body=template.body) == {}

    def test_english(self) -> None:
        letter = letter_render(code="complaint_answer", language="en", values=VALUES)
        assert letter.language == "en"
        assert letter.subject == "Our answer to your complaint SR2026110000123"
        assert letter.body.startswith("Dear Li Wei,")
        assert "We are sorry." in letter.body
        assert letter.body.rstrip().endswith("the After-sales Service Centre")
        assert "\n\n\n" not in letter.body  # the empty compensation leaves no gap
        assert "$" not in letter.text

    def test_chinese(self) -> None:
        letter = letter_render(code="complaint_answer", language="zh-hans", values=VALUES)
        assert letter.subject == "关于您的投诉 SR2026110000123 的答复"
        assert letter.body.startswith("尊敬的 Li Wei：")
        assert letter.body.endswith("售后服务中心")

    @pytest.mark.parametrize(
        ("preferred", "language"),
        [("en-GB", "en"), ("EN", "en"), ("fr", "zh-hans"), ("", "zh-hans"), ("zh-Hans", "zh-hans")],
    )
    def test_fallback(self, preferred: str, language: str) -> None:
        letter = letter_render(code="complaint_answer", language=preferred, values=VALUES)
        assert letter.language == language

    def test_an_inactive_translation_falls_back_to_chinese(self) -> None:
        LetterTemplate.objects.filter(language="en").update(is_active=False)
        letter = letter_render(code="complaint_answer", language="en", values=VALUES)
        assert letter.language == "zh-hans"

    def test_values_are_not_read_as_placeholders(self) -> None:
        values = {**VALUES, "customer_name": "$company $$x", "message": "${message}"}
        letter = letter_render(code="complaint_answer", language="en", values=values)
        assert letter.body.startswith("Dear $company $$x,")
        assert "${message}" in letter.body

    def test_missing_template(self) -> None:
        with pytest.raises(ApplicationError) as info:
            letter_render(code="apology", language="en", values=VALUES)
        assert (info.value.code, info.value.status_code) == ("letter_missing", 409)

    def test_a_broken_template_is_not_sent(self) -> None:
        LetterTemplate.objects.filter(language="en").update(body="Dear $customer, costs 5$")
        with pytest.raises(ApplicationError) as info:
            letter_render(code="complaint_answer", language="en", values=VALUES)
        assert (info.value.code, info.value.status_code) == ("letter_invalid", 409)
        assert "body" in info.value.details


class TestPlaceholders:
    def test_found(self) -> None:
        assert placeholders_in("Dear $customer_name, ${company} $$5") == (
            {"customer_name", "company"},
            False,
        )
        assert placeholders_in("costs 5$") == (set(), True)

    def test_errors(self) -> None:
        assert letter_template_errors(subject="$complaint_number", body="$message") == {}
        errors = letter_template_errors(subject="Hi $name", body="5$ ")
        assert set(errors) == {"subject", "body"}
        assert "$name" in errors["subject"]
        assert set(letter_template_errors(subject="ok", body=" ")) == {"body"}

    def test_languages(self) -> None:
        assert letter_language("en-US") == ["en-us", "en", "zh-hans"]
        assert letter_language("zh-hans") == ["zh-hans", "zh"]


@pytest.mark.django_db
def test_admin_form_refuses_unknown_placeholders() -> None:
    data: dict[str, Any] = {
        "code": "apology",
        "language": "en",
        "subject": "Sorry, $customer",
        "body": "Dear $customer_name, $$10 off.",
        "is_active": True,
    }
    form = LetterTemplateForm(data=data)
    assert not form.is_valid()
    assert set(form.errors) == {"subject"}
    data["subject"] = "Sorry, $customer_name"
    assert LetterTemplateForm(data=data).is_valid()
