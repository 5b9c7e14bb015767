"""Registrations with known truth, for measuring the master patient index.

SYNTHETIC DATA ONLY. People come from the township generator (``generate``,
``years=0``) across the county's townships, households and all; each person
is registered one to five times, as different clinics and legacy systems
would, each registration seen through its own clerk:

- names in 汉字, or in Latin letters (any case, either order, syllables
  joined or not, the surname's common reading instead of its surname reading:
  曾 → Ceng), the whole name in the family-name box; homophones, a surname
  homophone, a wrong character, a dropped character, Latin typos;
- birth dates in several formats, day and month swapped, a digit off, a year
  off, missing or unreadable;
- sex as 1/2, 男/女, M/F, male/female, missing or wrong;
- identity numbers missing, placeholder (111…, 000…, 123456…), a wrong check
  character, 15-digit legacy form, lower-case x, a parent's number on a
  child's registration;
- card numbers, a household's shared booklet number, junk;
- phones in several formats, changed, missing, placeholder, two in one field;
  a household shares its phones;
- villages moved, given as a name, a code, in Latin or missing; addresses
  with and without the village;
- twins: a child of a household gets a twin, born the same day to the same
  mother, in the same household with the same phone, with their own name
  and a consecutive identity number.

Rules:
1. Pure and deterministic: ``random.Random(seed)`` only, ``today`` passed in;
   the same arguments give the same registrations in the same order.
2. Every registration names its person (``person``): two registrations are
   one person exactly when their ``person`` is equal. ``errors`` lists what
   was done to it (for looking into misses, not for the linker).
3. Registrations come shuffled within windows of :data:`WINDOW`, so one
   person's registrations are not adjacent, and a million need not be held at once.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .._codes import code_list
from .._idnumber import check_digit
from .._names import SURNAME_READINGS, char_readings, pinyin_variants, split_name
from .._resident import REGISTRATION_CSV_COLUMNS
from ._engine import generate
from ._items import SynthResident
from ._tables import ERAS, SURNAME_TABLE
from ._town import COUNTY, township_codes

__all__ = ["REGISTRATION_COLUMNS", "WINDOW", "LabelledRegistration", "registrations"]

REGISTRATION_COLUMNS = REGISTRATION_CSV_COLUMNS
WINDOW = 20_000
_PEOPLE_PER_BATCH = 20_000
_TWIN_SHARE = 0.03  # of children with their mother in the household
_REGISTRATIONS = ((0.50, 1), (0.28, 2), (0.13, 3), (0.06, 4), (0.03, 5))
# Common characters beyond the generator's name pools, for homophones and typos.
_EXTRA_CHARS = (
    "伟卫维韦为玮炜薇蔚魏纬唯惟维微威巍华化话桦骅铧花明鸣名铭茗敏民珉闽旻军君均钧俊峻骏郡浚"
    "杰洁捷婕结节颉涛韬滔焘桃陶淘萍平苹坪评屏凭瓶娟鹃涓隽卷静婧靖晶菁敬镜境竞婷亭廷庭停霆"
    "丽莉力立利励俐历黎李理礼里鲤强墙蔷羌锵芳方放舫昉坊霞侠夏峡暇辖英鹰樱颖莹营瑛应影红洪"
    "宏鸿弘虹泓荣容蓉融溶榕燕艳彦雁焰颜妍岩研言琴勤芹秦擒禽梅美玫媚湄眉枚玲灵凌铃龄岭翎伶"
    "刚钢岗纲港斌彬滨宾冰兵秉炳海亥凯恺铠楷慧惠辉晖徽卉会绘汇春纯淳醇莲廉联连怜涟"
    "章彰璋漳樟汪旺望忘王网往黄皇煌凰璜晃谎刘流留柳榴琉陈晨辰沉臣尘忱宸杨阳洋扬羊佯"
    "周舟州洲粥吴无武午伍舞务雾徐许旭叙序绪栩胡湖狐壶虎户护朱珠株诸竹猪逐郭国果过"
    "何河和合荷禾贺罗萝逻骆洛落梁良粮凉亮量谅宋送颂诵松嵩郑正政证征整筝谢泄卸械懈"
)


@dataclass(frozen=True)
class LabelledRegistration:
    """One registration (``row``: the :data:`REGISTRATION_COLUMNS` as text) and its truth."""

    row: dict[str, str]
    person: str
    twin: bool = False  # the person is one of twins
    errors: tuple[str, ...] = field(default=())


def registrations(count: int, *, seed: int = 1, today: dt.date) -> Iterator[LabelledRegistration]:
    """``count`` registrations of synthetic people with their truth (module rules)."""
    if count < 0:
        raise ValueError(f"count: {count} must not be negative")
    maker = _Maker(random.Random(seed), seed, today)
    window: list[LabelledRegistration] = []
    made = 0
    for person in maker.people():
        if made >= count:
            break
        for reg in maker.registrations_of(person, count - made):
            window.append(reg)
            made += 1
        if len(window) >= WINDOW or made >= count:
            maker.rng.shuffle(window)
            yield from window
            window = []
    maker.rng.shuffle(window)
    yield from window


@dataclass
class _Person:
    key: str
    surname: str
    given: str
    latin: str | None
    sex: str
    born: dt.date
    id_number: str | None
    card: str | None
    phone: str | None
    village: str  # division code
    street: str
    household: str
    parent_ids: tuple[str, ...] = ()
    twin: bool = False
    has_mother: bool = False  # the mother lives in the household: the person may get a twin


class _Maker:
    def __init__(self, rng: random.Random, seed: int, today: dt.date) -> None:
        self.rng = rng
        self.seed = seed
        self.today = today
        self.used_ids: set[str] = set()
        self.used_cards: set[str] = set()
        self.serial = 0
        self.towns = township_codes()
        divisions = code_list("division")
        self.villages = [c.code for c in divisions.codes if len(c.code) == 12 and c.code[:6] == COUNTY]
        self.division = divisions
        pool = "".join(dict.fromkeys(_pool_chars()))
        self.pool = pool
        by_sound: dict[str, list[str]] = {}
        for c in pool:
            readings = char_readings(c)
            if readings:
                by_sound.setdefault(readings[0], []).append(c)
        self.homophones = {c: [o for o in by_sound[r[0]] if o != c] for c in pool if (r := char_readings(c))}

    # -- people ---------------------------------------------------------------------------

    def people(self) -> Iterator[_Person]:
        """People of every township of the county, household by household in turn."""
        batch = 0
        while True:
            towns = [
                self._township(town, self.seed * 1_000_003 + batch * 101 + t, f"P{batch}.{t}.")
                for t, town in enumerate(self.towns)
            ]
            while towns:
                for town in list(towns):
                    household = next(town, None)
                    if household is None:
                        towns.remove(town)
                    else:
                        yield from household
            batch += 1

    def _township(self, town: str, seed: int, prefix: str) -> Iterator[list[_Person]]:
        household: list[_Person] = []
        ids: dict[str, str] = {}  # key -> identity number, within one household
        current = ""
        items = generate(residents=_PEOPLE_PER_BATCH, years=0, seed=seed, today=self.today, township=town)
        for item in items:
            if not isinstance(item, SynthResident):
                continue
            hh = item.key.split("/", 1)[0]
            if hh != current:
                if household:
                    yield household
                household, ids, current = [], {}, hh
            p = self._person(item, prefix, ids)
            household.append(p)
            if p.has_mother and p.given and self.rng.random() < _TWIN_SHARE:
                p.twin = True
                household.append(self._twin_of(p, prefix))
        if household:
            yield household

    def _person(self, item: SynthResident, prefix: str, ids: dict[str, str]) -> _Person:
        data: dict[str, Any] = item.data
        surname, given = split_name(data["name"])
        idn = data.get("id_number")
        if idn is not None:
            if idn[:17] in self.used_ids:
                idn = self._new_id(dt.date.fromisoformat(data["birth_date"]), data["sex"])
            self.used_ids.add(idn[:17])
            ids[item.key] = idn
        card = data.get("card_number")
        if card is not None and card in self.used_cards:
            card = None
        if card is not None:
            self.used_cards.add(card)
        parents = tuple(ids[k] for r, k in sorted(item.refs.items()) if r in _PARENTS and k in ids)
        p = _Person(
            key=prefix + item.key,
            surname=surname,
            given=given,
            latin=data.get("name_latin"),
            sex=data["sex"],
            born=dt.date.fromisoformat(data["birth_date"]),
            id_number=idn,
            card=card,
            phone=data.get("phone"),
            village=data["address"]["division_code"],
            street=data["address"]["street"],
            household=prefix + item.key.split("/", 1)[0],
            parent_ids=parents,
            has_mother="family.mother_id" in item.refs,
        )
        return p

    def _twin_of(self, p: _Person, prefix: str) -> _Person:
        rng = self.rng
        sex = p.sex if rng.random() < 0.5 else ("2" if p.sex == "1" else "1")
        given = self._twin_name(p.given, sex, p.born.year)
        idn = self._new_id(p.born, sex) if p.id_number else None
        if idn:
            self.used_ids.add(idn[:17])
        self.serial += 1
        return _Person(
            key=p.key + "T",
            surname=p.surname,
            given=given,
            latin=None,
            sex=sex,
            born=p.born,
            id_number=idn,
            card=f"SC9{self.seed % 1000:03d}{self.serial:09d}" if p.card else None,
            phone=p.phone,
            village=p.village,
            street=p.street,
            household=p.household,
            parent_ids=p.parent_ids,
            twin=True,
        )

    def _twin_name(self, given: str, sex: str, year: int) -> str:
        """A twin's given name: parents name twins alike but never alike in sound."""
        rng = self.rng
        first, second, _ = next(e for end, e in ERAS if year < end)[sex]
        sounds = {_sound(char_readings(c)[0]) for c in given if char_readings(c)}
        for _ in range(100):
            c = rng.choice(second)
            if char_readings(c) and _sound(char_readings(c)[0]) not in sounds:
                if len(given) == 2 and given[0] == given[1]:
                    return c + c  # 欣欣 and 悦悦
                return (given[0] + c) if len(given) == 2 else c
        return rng.choice(first) + rng.choice(second)

    def _new_id(self, born: dt.date, sex: str) -> str:
        rng = self.rng
        while True:
            seq = rng.randrange(1, 500) * 2 + (1 if sex == "1" else 0)
            body = f"{COUNTY}{born:%Y%m%d}{seq:03d}"
            if body not in self.used_ids:
                return body + check_digit(body)

    # -- registrations ------------------------------------------------------------------------

    def registrations_of(self, p: _Person, room: int) -> list[LabelledRegistration]:
        n = min(room, _weighted(self.rng, _REGISTRATIONS))
        return [self._register(p) for _ in range(n)]

    def _register(self, p: _Person) -> LabelledRegistration:
        rng = self.rng
        errors: list[str] = []
        self.serial += 1
        row = {"record_id": f"R{self.seed % 1000:03d}{self.serial:09d}"}
        row.update(self._names(p, errors))
        row["sex"] = self._sex(p, errors)
        row["birth_date"] = self._birth(p, errors)
        row["id_number"] = self._id(p, errors)
        row["other_id"] = self._other(p, errors)
        row["phone"] = self._phone(p, errors)
        row.update(self._place(p, errors))
        if rng.random() < 0.003:  # junk in a random column
            column = rng.choice(REGISTRATION_COLUMNS[1:])
            row[column] = rng.choice(("#N/A", "???", "-", "0000-00-00", "null", "x" * 300, '"', "\t"))
            errors.append(f"junk_{column}")
        return LabelledRegistration(row, p.key, p.twin, tuple(errors))

    def _names(self, p: _Person, errors: list[str]) -> dict[str, str]:
        rng = self.rng
        surname, given = p.surname, p.given
        x = rng.random()
        if x < 0.06 and len(given) >= 1:
            i = rng.randrange(len(given))
            if options := self.homophones.get(given[i]):
                given = given[:i] + rng.choice(options) + given[i + 1 :]
                errors.append("homophone")
        elif x < 0.07 and (options := self.homophones.get(surname)):
            surname = rng.choice(options)
            errors.append("surname_homophone")
        elif x < 0.085 and len(given) >= 1:
            i = rng.randrange(len(given))
            c = rng.choice(self.pool)
            if char_readings(c)[:1] != char_readings(given[i])[:1]:
                given = given[:i] + c + given[i + 1 :]
                errors.append("wrong_character")
        elif x < 0.09 and len(given) == 2:
            given = given[rng.randrange(2)]
            errors.append("dropped_character")
        style = rng.random()
        if p.latin and style < 0.5:
            errors.append("latin")
            return self._latin_given(p.latin, errors)
        if style < 0.08:
            errors.append("latin")
            return self._latin(surname, given, errors)
        if style < 0.22:
            errors.append("whole_name")
            return {"family_name": surname + given, "given_name": ""}
        if style < 0.24:
            return {"family_name": f" {surname} ", "given_name": f"{given} "}
        return {"family_name": surname, "given_name": given}

    def _latin(self, surname: str, given: str, errors: list[str]) -> dict[str, str]:
        rng = self.rng
        variants = pinyin_variants(surname + given)
        syllables = list(variants[0]) if variants else []
        width = len(surname)
        if surname in SURNAME_READINGS and rng.random() < 0.4:  # the clerk read 曾 as ceng
            syllables[:width] = [char_readings(c)[0] for c in surname]
            errors.append("common_reading")
        ue = rng.choice(("u", "v", "ü"))
        syllables = [s.replace("v", ue) for s in syllables]
        fam = "".join(syllables[:width])
        giv_parts = syllables[width:]
        giv = rng.choice(("".join(giv_parts), " ".join(giv_parts), "-".join(giv_parts)))
        if rng.random() < 0.1 and len(giv) > 3:
            giv = _typo(rng, giv)
            errors.append("latin_typo")
        case = rng.random()
        if case < 0.4:
            fam, giv = fam.capitalize(), giv.title()
        elif case < 0.7:
            fam, giv = fam.upper(), giv.title()
        elif case < 0.85:
            fam, giv = fam.upper(), giv.upper()
        order = rng.random()
        if order < 0.6:
            return {"family_name": fam, "given_name": giv}
        if order < 0.8:
            return {"family_name": f"{fam} {giv}", "given_name": ""}
        errors.append("western_order")
        return {"family_name": f"{giv} {fam}", "given_name": ""}

    def _latin_given(self, latin: str, errors: list[str]) -> dict[str, str]:
        if self.rng.random() < 0.1 and len(latin) > 4:
            latin = _typo(self.rng, latin)
            errors.append("latin_typo")
        parts = latin.split(" ", 1)
        if len(parts) == 2 and self.rng.random() < 0.5:
            return {"family_name": parts[0], "given_name": parts[1]}
        return {"family_name": latin, "given_name": ""}

    def _sex(self, p: _Person, errors: list[str]) -> str:
        rng = self.rng
        sex = p.sex
        x = rng.random()
        if x < 0.02:
            errors.append("sex_missing")
            return rng.choice(("", "", "9", "0", "unknown"))
        if x < 0.025:
            errors.append("sex_wrong")
            sex = "2" if sex == "1" else "1"
        forms = _SEX_FORMS[sex]
        return forms[_weighted(rng, ((0.5, 0), (0.25, 1), (0.1, 2), (0.08, 3), (0.04, 4), (0.03, 5)))]

    def _birth(self, p: _Person, errors: list[str]) -> str:
        rng = self.rng
        y, m, d = p.born.year, p.born.month, p.born.day
        x = rng.random()
        if x < 0.03 and d <= 12 and d != m:
            m, d = d, m
            errors.append("date_swap")
        elif x < 0.045:
            which = rng.randrange(3)
            if which == 0:
                d = max(1, min(28, d + rng.choice((-10, -1, 1, 10))))
            elif which == 1:
                y += rng.choice((-1, 1))
            else:
                y += rng.choice((-10, 10))
            errors.append("date_typo")
        elif x < 0.075:
            errors.append("date_missing")
            return ""
        elif x < 0.08:
            errors.append("date_junk")
            return rng.choice(("unknown", "0000-00-00", "??", "不详"))
        form = rng.random()
        if form < 0.55:
            return f"{y:04d}-{m:02d}-{d:02d}"
        if form < 0.7:
            return f"{y}/{m}/{d}"
        if form < 0.8:
            return f"{y:04d}{m:02d}{d:02d}"
        if form < 0.86:
            return f"{d:02d}.{m:02d}.{y:04d}"
        if form < 0.92:
            return f"{y}年{m}月{d}日"
        return f"{y:04d}-{m:02d}-{d:02d} 00:00:00"

    def _id(self, p: _Person, errors: list[str]) -> str:
        rng = self.rng
        x = rng.random()
        if p.parent_ids and x < 0.01:
            errors.append("parent_id")
            return rng.choice(p.parent_ids)
        if x < 0.04:
            errors.append("id_placeholder")
            return rng.choice(("111111111111111111", "000000000000000000", "123456789012345678", "无", "0"))
        if p.id_number is None or x < 0.26:
            errors.append("id_missing")
            return ""
        idn = p.id_number
        y = rng.random()
        if y < 0.02:
            i = rng.randrange(6, 17)
            idn = idn[:i] + str((int(idn[i]) + rng.randrange(1, 10)) % 10) + idn[i + 1 :]
            errors.append("id_typo")
        elif y < 0.04 and idn[6:8] == "19":
            errors.append("id_legacy")
            return idn[:6] + idn[8:17]
        elif y < 0.07:
            idn = idn.lower()
        elif y < 0.09:
            idn = f"{idn[:6]} {idn[6:14]} {idn[14:]}"
        return idn

    def _other(self, p: _Person, errors: list[str]) -> str:
        rng = self.rng
        x = rng.random()
        if x < 0.35 and p.card:
            return p.card
        if x < 0.38:
            errors.append("household_booklet")
            return p.household.replace(".", "").replace("P", "HB", 1)
        if x < 0.40:
            errors.append("other_junk")
            return rng.choice(("NA", "0", "无", "-", "000000"))
        return ""

    def _phone(self, p: _Person, errors: list[str]) -> str:
        rng = self.rng
        phone = p.phone
        x = rng.random()
        if x < 0.12 or phone is None:
            errors.append("phone_missing")
            return ""
        if x < 0.14:
            errors.append("phone_placeholder")
            return rng.choice(("00000000000", "13800000000", "11111111111"))
        if x < 0.22:
            errors.append("phone_changed")
            phone = rng.choice(("139", "158", "187", "135")) + f"{rng.randrange(10**8):08d}"
        form = rng.random()
        if form < 0.7:
            return phone
        if form < 0.8:
            return f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}"
        if form < 0.9:
            return f"{phone[:3]}-{phone[3:7]}-{phone[7:]}"
        if form < 0.95:
            return "0086" + phone
        errors.append("two_phones")
        return f"{phone},{rng.choice(('139', '158'))}{rng.randrange(10**8):08d}"

    def _place(self, p: _Person, errors: list[str]) -> dict[str, str]:
        rng = self.rng
        village, street = p.village, p.street
        if rng.random() < 0.05:
            village = rng.choice(self.villages)
            street = f"{rng.randrange(1, 13)}组{rng.randrange(1, 80)}号"
            errors.append("moved")
        v = self.division.get(village)
        t = self.division.get(village[:9])
        vname, tname = (v.zh, v.en) if v else ("", ""), (t.zh, t.en) if t else ("", "")
        x = rng.random()
        if x < 0.65:
            vtext = vname[0]
        elif x < 0.75:
            vtext = village
        elif x < 0.8:
            vtext = vname[1]
        elif x < 0.85:
            vtext = vname[0].removesuffix("村").removesuffix("社区")
        else:
            vtext = ""
        y = rng.random()
        ttext = tname[0] if y < 0.65 else village[:9] if y < 0.75 else tname[1] if y < 0.8 else ""
        z = rng.random()
        address = street if z < 0.72 else f"{vname[0]}{street}" if z < 0.85 else ""
        return {"address": address, "village": vtext, "township": ttext}


_PARENTS = frozenset({"family.mother_id", "family.father_id"})
_SEX_FORMS = {"1": ("1", "男", "M", "male", "m", "Male"), "2": ("2", "女", "F", "female", "f", "Female")}


def _pool_chars() -> str:
    chars = [s for s, _ in SURNAME_TABLE if len(s) == 1]
    for _, eras in ERAS:
        for first, second, _ in eras.values():
            chars += list(first) + list(second)
    return "".join(chars) + _EXTRA_CHARS


def _sound(syllable: str) -> str:
    """A syllable as a Sichuan ear hears it: parents name twins apart in sound, not just in writing."""
    for a, b in (("zh", "z"), ("ch", "c"), ("sh", "s"), ("ng", "n"), ("l", "n")):
        syllable = syllable.replace(a, b)
    return syllable


def _weighted(rng: random.Random, table: tuple[tuple[float, int], ...]) -> int:
    x = rng.random() * sum(w for w, _ in table)
    for w, value in table:
        x -= w
        if x < 0:
            return value
    return table[-1][1]


def _typo(rng: random.Random, text: str) -> str:
    i = rng.randrange(1, len(text) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return text[:i] + text[i + 1 :]
    if kind == 1:
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return text[:i] + rng.choice("aeiounghz") + text[i + 1 :]
