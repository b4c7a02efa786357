"""aftersales.core.names: the normal forms the name blind indexes are computed from."""

import pytest

from aftersales.core.names import leading_key, name_key


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("李伟", "李伟"),
        (" 李  伟 ", "李 伟"),
        ("Ｌｉ　Ｗｅｉ", "li wei"),  # full-width letters and an ideographic space
        ("LI\tWEI", "li wei"),
        ("Straße", "strasse"),  # case-folded, not just lower-cased
    ],
)
def test_name_key_folds_what_people_type_differently(written: str, key: str) -> None:
    assert name_key(written) == key


@pytest.mark.parametrize(
    ("name", "leading"),
    [
        ("李伟", "李"),
        ("王小明", "王"),
        ("欧阳修", "欧阳"),  # a compound surname is kept whole
        ("司马相如", "司马"),
        ("欧阳", "欧"),  # two characters: surname 欧, given name 阳
        ("Li Wei", "li"),
        ("Zhang", "zhang"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_leading_key_is_the_surname_or_first_word(name: str, leading: str) -> None:
    assert leading_key(name) == leading
