"""Normal forms of personal names for the blind indexes of encrypted names (姓名盲索引).

Customer names are encrypted at rest, so the database cannot search them. Two keyed HMAC blind
indexes (see `core.crypto.blind_index`) keep the searches the desk needs:

* the full name (`name_key`: NFKC, case-folded, whitespace collapsed) answers an exact-name
  search. It reveals which rows share a name (equality), and common names form visible groups.
* the leading name part (`leading_key`): the surname of a Chinese name (its first character,
  or the compound surnames listed below) or the first word of a name written with spaces. It
  lets an agent list "every 王" when a caller gives only a surname. The trade-off, accepted and
  documented: anyone holding the database sees groups of equal hashes, and because surnames
  are few and very unevenly spread (王, 李, 张 alone cover about a fifth of China), frequency
  analysis can guess the surname of the largest groups. Given names and full names stay hidden
  except for equality. Substring ("contains") search on names is not offered at all.
"""

import re
import unicodedata

# Two-character surnames (复姓) that would otherwise be cut after their first character.
_COMPOUND = (
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 令狐 长孙 宇文 司徒 夏侯 轩辕 端木 独孤 "
    "南宫 西门 百里 呼延 万俟 申屠 澹台 公冶 太史 闻人 赫连 钟离 宗政 濮阳 淳于 单于 东郭"
)
COMPOUND_SURNAMES = frozenset(_COMPOUND.split())
_SPACE = re.compile(r"\s+")


def _is_cjk(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in ("W", "F") and ch.isalpha()


def name_key(name: str) -> str:
    """The full name as it is compared: NFKC, case-folded, runs of whitespace made one space.

    NFKC folds full-width letters and compatibility forms, so `Ｌｉ　Ｗｅｉ` equals `li wei`.
    """
    text = unicodedata.normalize("NFKC", name or "").casefold()
    return _SPACE.sub(" ", text).strip()


def leading_key(name: str) -> str:
    """The leading name part: a Chinese surname (复姓 included) or the first word; "" if none."""
    key = name_key(name)
    if not key:
        return ""
    if " " in key:
        return key.split(" ", 1)[0]
    if _is_cjk(key[0]):
        return key[:2] if key[:2] in COMPOUND_SURNAMES and len(key) > 2 else key[0]
    return key
