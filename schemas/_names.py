"""Chinese personal names: surnames, pinyin readings, Latin folding. Pure, shared by desk
search (``node/_search.py``) and the master patient index (``hub/mpi``).

Rules:

1. Names are read per character, never through pypinyin's phrase dictionary
   (a phrase reading of a whole name is wrong more often than right).
2. The surname is the first two characters when they form a compound surname
   (:data:`COMPOUND_SURNAMES`: 欧阳, 司马 …) and the name has at least three
   characters, else the first (:func:`split_name`).
3. A surname in :data:`SURNAME_READINGS` is read with its surname reading(s)
   *and* its common reading (曾 → zeng and ceng); other surnames with the common
   reading only. Each given-name character contributes its common reading and
   then its other readings (heteronyms), fewest departures from the common
   reading first; at most :data:`MAX_VARIANTS` readings of a name, the first
   being "surname reading + common given-name readings" (:func:`pinyin_variants`).
   Characters pypinyin does not know are skipped.
4. ``ü`` is spelled ``v`` (吕 → lv); callers that also want ``u`` replace it.
5. pypinyin is imported inside :func:`char_readings`, never at module import: it
   costs ~57 MB RSS (~13 MB with ``PYPINYIN_NO_PHRASES=1``, which is safe here
   since phrases are never used). Per-character readings are cached.
"""

from __future__ import annotations

import functools
import os
import re
import unicodedata
from collections.abc import Iterator

__all__ = [
    "COMPOUND_SURNAMES",
    "MAX_VARIANTS",
    "SURNAME_READINGS",
    "char_readings",
    "fold_latin",
    "is_latin_text",
    "name_key",
    "pinyin_variants",
    "split_name",
]

MAX_VARIANTS = 8
"""Most pinyin readings of one name (each in its ``v`` spelling)."""

SURNAME_READINGS: dict[str, tuple[str, ...]] = {
    # Single-character surnames read differently from (or more narrowly than)
    # the character's common reading. Syllables separated by spaces.
    "曾": ("zeng",),
    "单": ("shan",),
    "解": ("xie",),
    "仇": ("qiu",),
    "朴": ("piao",),
    "区": ("ou",),
    "查": ("zha",),
    "盖": ("ge",),
    "覃": ("qin", "tan"),
    "尉": ("wei", "yu"),
    "乐": ("yue", "le"),
    "缪": ("miao",),
    "宓": ("mi",),
    "繁": ("po",),
    "员": ("yun",),
    "隗": ("wei",),
    "种": ("chong",),
    "秘": ("bi",),
    "黑": ("he",),
    "能": ("nai",),
    "召": ("shao",),
    "乜": ("nie",),
    "重": ("chong",),
    "翟": ("zhai",),
    "那": ("na",),
    "折": ("she",),
    "华": ("hua",),
    "任": ("ren",),
    "沈": ("shen",),
    "柏": ("bai",),
    "薄": ("bo",),
    "藏": ("zang",),
    "参": ("can",),
    "长": ("chang",),
    "卜": ("bu",),
    "阚": ("kan",),
    "句": ("gou",),
    "粘": ("nian",),
    "牟": ("mou", "mu"),
    "蕃": ("pi",),
    "洗": ("xian",),
    "祭": ("zhai",),
    "炅": ("gui",),
    "都": ("du",),
    "佴": ("nai",),
    "角": ("jue",),
    "谌": ("chen", "shen"),
    "莘": ("shen",),
    "郇": ("huan",),
    "逄": ("pang",),
    "盛": ("sheng",),
    "石": ("shi",),
    "褚": ("chu",),
    "贾": ("jia",),
    "宿": ("su",),
    # Compound surnames whose reading differs from the characters' common readings.
    "尉迟": ("yu chi",),
    "万俟": ("mo qi",),
    "单于": ("chan yu",),
    "长孙": ("zhang sun",),
    "澹台": ("tan tai",),
    "乐正": ("yue zheng",),
    "仉督": ("zhang du",),
    "亓官": ("qi guan",),
}

COMPOUND_SURNAMES: frozenset[str] = frozenset(
    {
        "欧阳", "司马", "诸葛", "上官", "东方", "夏侯", "皇甫", "慕容", "司徒", "令狐",
        "尉迟", "长孙", "宇文", "公孙", "轩辕", "端木", "独孤", "南宫", "西门", "百里",
        "呼延", "闻人", "澹台", "公冶", "宗政", "濮阳", "淳于", "太叔", "申屠", "钟离",
        "万俟", "单于", "赫连", "拓跋", "东郭", "第五", "左丘", "谷梁", "司空", "司寇",
        "子车", "羊舌", "梁丘", "乐正", "仉督", "亓官", "巫马", "公西", "漆雕", "壤驷",
        "公良", "段干", "完颜", "鲜于", "闾丘", "东门", "公羊", "夹谷", "即墨", "微生",
    }
)  # fmt: skip

_SYLLABLE_RE = re.compile(r"[a-z]+")
_NAME_DROP_RE = re.compile(r"[\s·•‧・.]+")
_NOT_LATIN_RE = re.compile(r"[^0-9a-z]+")


def name_key(name: str) -> str:
    """The name as written, NFKC, without spaces or middle dots (张 三 → 张三)."""
    return _NAME_DROP_RE.sub("", unicodedata.normalize("NFKC", name))


def fold_latin(text: str) -> str:
    """Latin text folded for comparison: accents dropped, lowercased, only a-z/0-9 kept."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NOT_LATIN_RE.sub("", stripped.casefold())


def is_latin_text(text: str) -> bool:
    """ASCII, or Latin letters with accents (lü): text to read as letters, not as a Chinese name."""
    return all(c.isascii() or unicodedata.name(c, "").startswith("LATIN") for c in text)


def split_name(name: str) -> tuple[str, str]:
    """(surname, given name) of a Chinese name written as one string (rule 2)."""
    width = 2 if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES else 1
    return name[:width], name[width:]


@functools.lru_cache(maxsize=8192)
def char_readings(ch: str) -> tuple[str, ...]:
    """Common reading first, then the other readings; () if pypinyin does not know ch."""
    # Names are read character by character, so pypinyin's phrase dictionary
    # (~45 MB resident) is never needed; it honours this switch at first import.
    os.environ.setdefault("PYPINYIN_NO_PHRASES", "1")
    from pypinyin import Style, lazy_pinyin, pinyin

    common = lazy_pinyin(ch, style=Style.NORMAL, errors="ignore")
    every = pinyin(ch, heteronym=True, style=Style.NORMAL, errors="ignore")
    readings = [*common, *(every[0] if every else [])]
    return tuple(dict.fromkeys(r for r in readings if _SYLLABLE_RE.fullmatch(r)))


def pinyin_variants(name: str) -> list[tuple[str, ...]]:
    """Readings of a name as syllable tuples, the likeliest first, at most MAX_VARIANTS (rule 3)."""
    chars = [c for c in name if char_readings(c)]
    if not chars:
        return []
    width = 2 if len(chars) >= 3 and "".join(chars[:2]) in COMPOUND_SURNAMES else 1
    surname = "".join(chars[:width])
    common = tuple(char_readings(c)[0] for c in chars[:width])
    special = [tuple(r.split()) for r in SURNAME_READINGS.get(surname, ())]
    surnames = list(dict.fromkeys([*special, common]))
    given = [char_readings(c) for c in chars[width:]]
    out: list[tuple[str, ...]] = []
    for picks in _fewest_departures([len(g) for g in given]):
        rest = tuple(g[i] for g, i in zip(given, picks, strict=True))
        for head in surnames:
            out.append(head + rest)
            if len(out) >= MAX_VARIANTS:
                return out
    return out


def _fewest_departures(sizes: list[int]) -> Iterator[tuple[int, ...]]:
    """Every choice of one index per position, by increasing sum of indexes."""
    room = [0] * (len(sizes) + 1)  # room[i]: the largest index sum positions i.. can take
    for i in range(len(sizes) - 1, -1, -1):
        room[i] = room[i + 1] + sizes[i] - 1

    def pick(i: int, left: int) -> Iterator[tuple[int, ...]]:
        if i == len(sizes):
            yield ()
            return
        for k in range(min(left, sizes[i] - 1) + 1):
            if left - k <= room[i + 1]:
                for tail in pick(i + 1, left - k):
                    yield (k, *tail)

    for total in range(room[0] + 1):
        yield from pick(0, total)
