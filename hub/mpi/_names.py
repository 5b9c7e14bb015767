"""Personal names as the master index compares them: 汉字, pinyin and Latin letters.

Rules:

1. A name is read from what a registration gives (family name, given name,
   Latin name), whatever the split: a whole name in the family-name box with
   the given name empty is split by :func:`schemas._names.split_name`
   (compound surnames), a whole name in the given-name box likewise.
2. 汉字 names are read with :func:`schemas._names.pinyin_variants` (surname
   readings 曾 → zeng/ceng, heteronyms), each variant also with ``ü`` as ``u``.
   Two 汉字 names are homophones only through their given characters' *common*
   readings (``Name.common``): a clerk picking 平 for 兵 types "bing" rarely,
   and parents naming twins 国兵 and 国平 hear two names. Heteronyms count
   against Latin spellings, where the clerk's reading is unknown.
3. Latin names are folded (case, accents, spaces, hyphens, apostrophes). When
   the order is unknown (one box holding ``San Zhang`` or ``Zhang San``) both
   orders are readings; ``LI, Xiao Ming`` puts the family name before the comma.
   A Latin surname in :data:`LATIN_SURNAMES` (Wade-Giles, Cantonese: Lee, Wong,
   Chan, Hsu …) also reads as its pinyin.
4. The *sound* of a reading forgets what clerks and dialects confuse: zh/z,
   ch/c, sh/s, n/l, f/h before u, -ng/-n, ü/u and doubled letters.
5. Everything here is cached per distinct input: a million registrations hold
   far fewer distinct names, and matching one rebuilds candidates' names from
   their stored text.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from schemas._names import char_readings, fold_latin, is_latin_text, name_key, pinyin_variants, split_name

__all__ = ["LATIN_SURNAMES", "Name", "clear_cache", "read_name", "sound"]

LATIN_SURNAMES: dict[str, tuple[str, ...]] = {
    # Romanisations other than Hanyu Pinyin met on passports and legacy systems.
    "lee": ("li",), "wong": ("wang", "huang"), "chan": ("chen",), "chang": ("zhang",),
    "cheung": ("zhang",), "chow": ("zhou",), "chou": ("zhou",), "ng": ("wu",), "ho": ("he",),
    "lam": ("lin",), "lim": ("lin",), "tsang": ("zeng",), "hsu": ("xu",), "tsai": ("cai",),
    "kwok": ("guo",), "kuo": ("guo",), "yeung": ("yang",), "leung": ("liang",), "cheng": ("zheng",),
    "hsieh": ("xie",), "tse": ("xie",), "lau": ("liu",), "yip": ("ye",), "mak": ("mai",),
    "tam": ("tan",), "lo": ("luo",), "choi": ("cai",), "chu": ("zhu",), "koo": ("gu",),
    "hung": ("hong",), "kwan": ("guan",), "chiang": ("jiang",), "teng": ("deng",), "tong": ("tang",),
    "soong": ("song",), "sung": ("song",), "tsui": ("xu",), "szeto": ("situ",), "auyeung": ("ouyang",),
}  # fmt: skip

_LATIN_SPLIT_RE = re.compile(r"[\s,;/_]+")
_LATIN_JOIN_RE = re.compile(r"[-'’.·]+")
_HAN_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_SOUND_RULES = (
    (re.compile(r"([zcs])h"), r"\1"),
    (re.compile(r"ng"), "n"),
    (re.compile(r"l"), "n"),
    (re.compile(r"fu"), "hu"),
    (re.compile(r"v"), "u"),
    (re.compile(r"(.)\1+"), r"\1"),
)


@dataclass(frozen=True, slots=True)
class Name:
    """One person's name, read every way it can be: what comparisons and blocking use.

    ``shown`` is the name as the reviewer sees it. ``readings`` are whole-name
    readings (pinyin or folded Latin, several orders and variants); ``primary``
    the likeliest. ``surnames``/``givens`` are the readings of the parts (for
    Latin names of unknown order, of both splits); ``given_syllables`` one
    set of readings per 汉字 of the given name (empty for Latin).
    """

    shown: str
    han: str
    han_surname: str
    han_given: str
    primary: str
    readings: frozenset[str]
    sounds: frozenset[str]
    surnames: frozenset[str]
    givens: frozenset[str]
    given_sounds: frozenset[str]
    surname_sounds: frozenset[str]
    given_syllables: tuple[frozenset[str], ...]
    primary_surname: str
    primary_given: str
    common: frozenset[str] = frozenset()  # 汉字 only: readings with each given character's common reading
    common_givens: frozenset[str] = frozenset()

    @property
    def latin(self) -> bool:
        return not self.han


def sound(reading: str) -> str:
    """The reading with clerks' and dialects' confusions folded away (rule 4)."""
    for pattern, repl in _SOUND_RULES:
        reading = pattern.sub(repl, reading)
    return reading


def read_name(family: str, given: str = "", latin: str = "") -> Name | None:
    """The :class:`Name` of what a registration gives, or None when it gives no usable name."""
    return _read(family.strip(), given.strip(), latin.strip())


def clear_cache() -> None:
    """Forget the names read so far (``_normal.trim_caches``)."""
    _read.cache_clear()


@functools.lru_cache(maxsize=65_536)
def _read(family: str, given: str, latin: str) -> Name | None:
    fam = unicodedata.normalize("NFKC", family)
    giv = unicodedata.normalize("NFKC", given)
    han_text = "".join(_HAN_RE.findall(fam + giv))
    if han_text:
        fam_han = "".join(_HAN_RE.findall(fam))
        giv_han = "".join(_HAN_RE.findall(giv))
        name = _read_han(fam_han, giv_han)
        if name is not None:
            return _with_latin(name, latin) if latin else name
    latin_text = " ".join(p for p in (fam, giv) if p and is_latin_text(p)) or latin
    if not latin_text:
        return None
    if fam and giv and is_latin_text(fam) and is_latin_text(giv):
        return _read_latin(fam, giv, ordered=True)
    return _read_latin(latin_text, "", ordered=False)


def _read_han(family: str, given: str) -> Name | None:
    if family and given and family != given and family.endswith(given):
        family = family[: -len(given)]  # the whole name in the family box, the given name repeated
    if family and given:
        surname, rest = family, given
    else:
        surname, rest = split_name(name_key(family or given))
    written = surname + rest
    variants = pinyin_variants(written)
    if not variants:
        return None
    width = 2 if len(surname) == 2 else 1
    readings: set[str] = set()
    surnames: set[str] = set()
    givens: set[str] = set()
    common: set[str] = set()
    common_givens: set[str] = set()
    usual = tuple(r[0] for r in (char_readings(c) for c in rest) if r)
    for v in variants:
        for spelled in {tuple(v), tuple(s.replace("v", "u") for s in v)}:
            readings.add("".join(spelled))
            surnames.add("".join(spelled[:width]))
            givens.add("".join(spelled[width:]))
            if tuple(v[width:]) == usual:
                common.add("".join(spelled))
                common_givens.add("".join(spelled[width:]))
    syllables = tuple(frozenset(r for x in char_readings(c) for r in (x, x.replace("v", "u"))) for c in rest)
    primary = "".join(variants[0])
    givens.discard("")
    return Name(
        shown=written,
        han=written,
        han_surname=surname,
        han_given=rest,
        primary=primary,
        readings=frozenset(readings),
        sounds=frozenset(sound(r) for r in readings),
        surnames=frozenset(surnames),
        givens=frozenset(givens),
        given_sounds=frozenset(sound(g) for g in givens),
        surname_sounds=frozenset(sound(s) for s in surnames),
        given_syllables=tuple(s for s in syllables if s),
        primary_surname="".join(variants[0][:width]),
        primary_given="".join(variants[0][width:]),
        common=frozenset(common),
        common_givens=frozenset(common_givens - {""}),
    )


def _tokens(text: str) -> list[str]:
    joined = _LATIN_JOIN_RE.sub("", unicodedata.normalize("NFKC", text))
    return [t for t in (fold_latin(p) for p in _LATIN_SPLIT_RE.split(joined)) if t]


def _read_latin(family: str, given: str, *, ordered: bool) -> Name | None:
    splits: list[tuple[str, str]]
    if ordered:
        fam, giv = "".join(_tokens(family)), "".join(_tokens(given))
        if not fam and not giv:
            return None
        splits = [(fam, giv)]
    elif "," in family:
        before, after = family.split(",", 1)
        splits = [("".join(_tokens(before)), "".join(_tokens(after)))]
    else:
        tokens = _tokens(family)
        if not tokens:
            return None
        if len(tokens) == 1:
            splits = [(tokens[0], "")]
        else:  # Chinese order (surname first) is likelier; Western order is a reading too
            splits = [(tokens[0], "".join(tokens[1:])), (tokens[-1], "".join(tokens[:-1]))]
    readings: set[str] = set()
    surnames: set[str] = set()
    givens: set[str] = set()
    for fam, giv in splits:
        for sur in (fam, *LATIN_SURNAMES.get(fam, ())):
            surnames.add(sur)
            readings.add(sur + giv)
            readings.add(giv + sur)
        if giv:
            givens.add(giv)
    fam0, giv0 = splits[0]
    shown = " ".join(p for p in (fam0.capitalize(), giv0.capitalize()) if p)
    return Name(
        shown=shown,
        han="",
        han_surname="",
        han_given="",
        primary=fam0 + giv0,
        readings=frozenset(r for r in readings if r),
        sounds=frozenset(sound(r) for r in readings if r),
        surnames=frozenset(s for s in surnames if s),
        givens=frozenset(givens),
        given_sounds=frozenset(sound(g) for g in givens),
        surname_sounds=frozenset(sound(s) for s in surnames if s),
        given_syllables=(),
        primary_surname=fam0,
        primary_given=giv0,
    )


def _with_latin(name: Name, latin: str) -> Name:
    """A 汉字 name that also carries a Latin spelling (name_latin): the Latin readings join it."""
    other = _read_latin(latin, "", ordered=False)
    if other is None:
        return name
    return Name(
        shown=name.shown,
        han=name.han,
        han_surname=name.han_surname,
        han_given=name.han_given,
        primary=name.primary,
        readings=name.readings | other.readings,
        sounds=name.sounds | other.sounds,
        surnames=name.surnames,
        givens=name.givens,
        given_sounds=name.given_sounds,
        surname_sounds=name.surname_sounds,
        given_syllables=name.given_syllables,
        primary_surname=name.primary_surname,
        primary_given=name.primary_given,
        common=name.common,
        common_givens=name.common_givens,
    )
