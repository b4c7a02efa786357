"""aftersales.core.logging: phone numbers and e-mail addresses never reach a log line."""

import logging

import pytest

from aftersales.core.logging import RedactPersonalData, redact

log = logging.getLogger("aftersales.tests.logging")


@pytest.fixture
def redacted(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.handler.addFilter(RedactPersonalData())
    caplog.set_level(logging.INFO)
    return caplog


@pytest.mark.parametrize(
    "phone",
    [
        "13800138000",
        "+8613800138000",
        "+86 138 0013 8000",
        "008613800138000",
        "138-0013-8000",
        "0755-8888 6666",
        "010-12345678",
        "(0755) 8888 6666",
        "+852 5123 4567",
        "+1 415 555 2671",
    ],
)
def test_phone_numbers_in_the_message_are_masked(
    redacted: pytest.LogCaptureFixture, phone: str
) -> None:
    log.info(f"caller {phone} not found")

    assert redacted.messages == ["caller [phone] not found"]


def test_arguments_are_masked_whatever_their_type(redacted: pytest.LogCaptureFixture) -> None:
    log.warning("lookup %s by %s: %r", "li.wei@example.com", 42, {"phone": "+8613800138000"})

    [message] = redacted.messages
    assert message == "lookup [e-mail] by 42: {'phone': '[phone]'}"
    assert redacted.records[0].args is None


def test_exception_text_is_masked(redacted: pytest.LogCaptureFixture) -> None:
    try:
        raise ValueError("'13800138000' is not a valid number for li@example.com")
    except ValueError:
        log.exception("import failed")

    assert "13800138000" not in redacted.text and "li@example.com" not in redacted.text
    assert "ValueError: '[phone]' is not a valid number for [e-mail]" in redacted.text


@pytest.mark.parametrize(
    "text",
    [
        "case SR2026110000123 escalated at 2026-11-25 10:15:00",
        "customer C2026110000001 merged into C2026110000002",
        "swept 1234 cases in 0.52 s from 127.0.0.1",
        "GET /api/v1/cases?limit=50&offset=100 HTTP/1.1 200 12345",
    ],
)
def test_ordinary_figures_are_left_alone(text: str) -> None:
    assert redact(text) == text


def _configured(logger: logging.Logger) -> list[logging.Handler]:
    """The handlers LOGGING installed (pytest adds its own capturing ones while testing)."""
    return [h for h in logger.handlers if not type(h).__module__.startswith("_pytest")]


def test_every_configured_handler_carries_the_filter() -> None:
    """LOGGING installs it on the root handler and on the development server's request log,
    so nothing that Django or the application logs skips it."""
    for name in ("", "django.server"):
        assert _configured(logging.getLogger(name)), name
    for name in ("", "django", "django.request", "django.server", "aftersales"):
        for handler in _configured(logging.getLogger(name)):
            assert any(isinstance(f, RedactPersonalData) for f in handler.filters), name


def test_a_record_through_the_root_handler_is_written_redacted() -> None:
    [handler] = _configured(logging.getLogger())
    record = log.makeRecord(
        log.name, logging.INFO, __file__, 1, "%s rang", ("+86 138 0013 8000",), None
    )

    assert handler.filter(record)
    assert handler.format(record) == "[phone] rang"
