import pytest

from aftersales.core.errors import ApplicationError
from aftersales.core.phones import mask_phone, normalize_phone


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+86 138 0013 8000", "+8613800138000"),
        ("13800138000", "+8613800138000"),
        ("138-0013-8000", "+8613800138000"),
        ("008613800138000", "+8613800138000"),
        ("  (138) 0013 8000 ", "+8613800138000"),
        ("0755-8888 6666", "+8675588886666"),
        ("010 6552 9988", "+861065529988"),
        ("+852 5123 4567", "+85251234567"),
        ("+1 650-253-0000", "+16502530000"),
    ],
)
def test_formats_normalise_to_e164(raw: str, e164: str) -> None:
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize("raw", ["", "abc", "123", "+86 138", "1380013800099999"])
def test_garbage_is_refused(raw: str) -> None:
    with pytest.raises(ApplicationError) as exc:
        normalize_phone(raw)
    assert exc.value.code == "invalid_phone"


def test_mask_keeps_head_and_tail_only() -> None:
    assert mask_phone("+8613800138000") == "+86 138****8000"
