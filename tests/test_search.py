"""Desk search: names, pinyin (surname readings), initials and identifiers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node._db import Database
from node._search import SearchHit, find, index_resident, search_keys


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    db = Database(tmp_path / "node.db")
    try:
        yield db.writer
    finally:
        db.close()


def add(conn: sqlite3.Connection, resident_id: str, **fields: object) -> None:
    conn.execute("BEGIN IMMEDIATE")
    index_resident(conn, resident_id, dict(fields))
    conn.execute("COMMIT")


def ids(conn: sqlite3.Connection, query: str, **kw: int) -> list[str]:
    return [h.resident_id for h in find(conn, query, **kw)]


# -- names and pinyin --------------------------------------------------------


@pytest.mark.parametrize("query", ["zs", "zhangsan", "zhang san", "Zhang San", "ZS", "张", "张三"])
def test_zhang_san_found(conn: sqlite3.Connection, query: str) -> None:
    add(conn, "r1", name="张三")
    add(conn, "r2", name="李四")
    assert ids(conn, query) == ["r1"]


def test_hit_reports_kind_and_exactness(conn: sqlite3.Connection) -> None:
    add(conn, "r1", name="张三")
    assert find(conn, "zs") == [SearchHit("r1", "initials", True)]
    assert find(conn, "zhang") == [SearchHit("r1", "pinyin", False)]
    assert find(conn, "张三") == [SearchHit("r1", "name", True)]
    assert find(conn, "张") == [SearchHit("r1", "name", False)]


@pytest.mark.parametrize(
    ("name", "queries"),
    [
        ("曾小贤", ["zeng", "zengxiaoxian", "zxx", "ceng", "cengxiaoxian", "cxx"]),
        ("单雄信", ["shan", "shanxiongxin", "sxx", "dan", "danxiongxin"]),
        ("解缙", ["xie", "xiejin", "xj"]),
        ("仇英", ["qiu", "qiuying", "qy"]),
        ("朴树", ["piao", "piaoshu", "ps"]),
        ("区志明", ["ou", "ouzhiming", "ozm"]),
        ("翟志刚", ["zhai", "zhaizhigang", "zzg"]),
        ("尉迟恭", ["yuchi", "yuchigong", "ycg", "weichigong"]),
        ("万俟卨", ["moqi", "mqx"]),
        ("单于夫罗", ["chanyu", "chanyufuluo", "cyfl"]),
        ("长孙无忌", ["zhangsun", "zswj"]),
        ("黑大明", ["hedaming", "heidaming", "hdm"]),
    ],
)
def test_surname_readings(conn: sqlite3.Connection, name: str, queries: list[str]) -> None:
    add(conn, "r1", name=name)
    for query in queries:
        assert ids(conn, query) == ["r1"], query


@pytest.mark.parametrize("query", ["oy", "oyf", "ouyang", "ouyangfeng", "欧阳", "欧阳锋"])
def test_compound_surname(conn: sqlite3.Connection, query: str) -> None:
    add(conn, "r1", name="欧阳锋")
    assert ids(conn, query) == ["r1"]


@pytest.mark.parametrize("query", ["lv", "lu", "lvbu", "lubu", "lü", "lüBu", "lb"])
def test_u_umlaut_as_v_and_u(conn: sqlite3.Connection, query: str) -> None:
    add(conn, "r1", name="吕布")
    assert ids(conn, query) == ["r1"]


def test_given_name_heteronyms_indexed_and_bounded() -> None:
    keys = search_keys({"name": "张长乐"})
    pinyin = [k for k, kind in keys if kind == "pinyin"]
    assert pinyin[0] == "zhangzhangle"  # common readings first
    assert "zhangchangle" in pinyin and "zhangzhangyue" in pinyin
    many = search_keys({"name": "单那能行朝重长乐"})
    variants = [k for k, kind in many if kind == "pinyin" and "v" not in k]
    assert len(variants) <= 8
    assert variants[:2] == ["shannanengxingchaozhongzhangle", "dannanengxingchaozhongzhangle"]


def test_name_is_read_per_character_not_as_a_phrase() -> None:
    # As a phrase 单车 is "danche" (bicycle); as a name it is surname 单 (shan)
    # and given name 车, and the surname reading comes first.
    pinyin = [k for k, kind in search_keys({"name": "单车"}) if kind == "pinyin"]
    assert pinyin[:2] == ["shanche", "danche"]


def test_latin_name(conn: sqlite3.Connection) -> None:
    add(conn, "r1", name="阿依古丽·买买提", name_latin="Ayguli Memet")
    add(conn, "r2", name="Zoë Müller")
    assert ids(conn, "ayguli memet") == ["r1"]
    assert ids(conn, "Aygul") == ["r1"]
    assert ids(conn, "阿依古丽买买提") == ["r1"]  # middle dot ignored
    assert ids(conn, "阿依古丽·买") == ["r1"]
    assert ids(conn, "zoe") == ["r2"]
    assert ids(conn, "Zoë Mü") == ["r2"]


def test_full_width_input(conn: sqlite3.Connection) -> None:
    add(conn, "r1", name="张三", phone="13800138000")
    assert ids(conn, "ｚｓ") == ["r1"]
    assert ids(conn, "１３８００１３８０００") == ["r1"]


# -- identifiers ---------------------------------------------------------------


def test_id_number_exact_and_suffix(conn: sqlite3.Connection) -> None:
    add(conn, "r1", name="张三", id_number="11010119900307123X")
    add(conn, "r2", name="李四", id_number="110101199003071248")
    assert find(conn, "11010119900307123x") == [SearchHit("r1", "id_number", True)]
    assert find(conn, "11010119900307123X") == [SearchHit("r1", "id_number", True)]
    assert ids(conn, "110101199003071231") == []
    assert find(conn, "07123x") == [SearchHit("r1", "id_number", False)]
    assert ids(conn, "0307123X") == ["r1"]
    assert ids(conn, "071248") == ["r2"]
    assert ids(conn, "1248") == []  # shorter than 6: no suffix search


def test_phone(conn: sqlite3.Connection) -> None:
    add(conn, "r1", name="张三", phone="13800138000")
    add(conn, "r2", name="李四", phone="0571-88776655")
    assert find(conn, "13800138000") == [SearchHit("r1", "phone", True)]
    assert ids(conn, "138 0013 8000") == ["r1"]
    assert ids(conn, "+86 138-0013-8000") == ["r1"]
    assert ids(conn, "1380013800") == []  # a prefix of a phone is not a match
    assert ids(conn, "057188776655") == ["r2"]
    assert ids(conn, "0571-88776655") == ["r2"]
    assert ids(conn, "88776655") == ["r2"]


def test_card_number_and_other_ids_case_insensitive(conn: sqlite3.Connection) -> None:
    add(conn, "r1", name="张三", card_number="AB12345678")
    add(conn, "r2", name="李四", other_ids=[{"type": "passport", "number": "E12345678"}])
    add(conn, "r3", name="王五", card_number="12345678")
    assert find(conn, "ab12345678") == [SearchHit("r1", "card_number", True)]
    assert ids(conn, "Ab12345678") == ["r1"]
    assert find(conn, "e12345678") == [SearchHit("r2", "other_id", True)]
    assert ids(conn, "12345678") == ["r3"]


def test_reindex_replaces_old_keys(conn: sqlite3.Connection) -> None:
    add(conn, "r1", name="张三", phone="13800138000")
    add(conn, "r1", name="李四")
    assert ids(conn, "zs") == []
    assert ids(conn, "13800138000") == []
    assert ids(conn, "ls") == ["r1"]
    rows = conn.execute("SELECT COUNT(*) FROM search_keys WHERE resident_id = 'r1'").fetchone()
    assert rows[0] == len(search_keys({"name": "李四"}))


# -- ranking and limits ----------------------------------------------------------


def test_exact_before_prefix(conn: sqlite3.Connection) -> None:
    add(conn, "a", name="张三丰")  # zsf: initials prefix of "zs"
    add(conn, "b", name="张三")  # zs: initials exact
    add(conn, "c", name="赵四")  # zs: initials exact
    add(conn, "d", name="张", name_latin="Zs")  # exact via latin
    hits = find(conn, "zs")
    assert [h.resident_id for h in hits] == ["b", "c", "d", "a"]
    assert [h.exact for h in hits] == [True, True, True, False]
    assert ids(conn, "张三") == ["b", "a"]


def test_prefix_order_is_by_key_then_resident(conn: sqlite3.Connection) -> None:
    add(conn, "r3", name="张伟")
    add(conn, "r1", name="张伟")
    add(conn, "r2", name="张安")
    assert ids(conn, "zhang") == ["r2", "r1", "r3"]  # zhangan < zhangwei


def test_each_resident_once(conn: sqlite3.Connection) -> None:
    add(conn, "r1", name="张三", name_latin="Zhang San")
    hits = find(conn, "zhangsan")
    assert hits == [SearchHit("r1", "pinyin", True)]


def test_limit_honoured(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    for i in range(50):
        index_resident(conn, f"r{i:02d}", {"name": "张" + "伟明华国"[i % 4]})
    conn.execute("COMMIT")
    assert len(find(conn, "z")) == 20
    assert len(find(conn, "张", limit=7)) == 7
    assert find(conn, "z", limit=0) == []
    assert len(find(conn, "z", limit=1000)) == 50


@pytest.mark.parametrize("query", ["", "   ", "!!", "-"])
def test_nothing_to_search(conn: sqlite3.Connection, query: str) -> None:
    add(conn, "r1", name="张三")
    assert find(conn, query) == []


def test_prefix_search_uses_the_key_range(conn: sqlite3.Connection) -> None:
    add(conn, "r1", name="张三")
    plan = " ".join(
        row[3]
        for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT key, resident_id, kind FROM search_keys "
            "WHERE key >= ? AND key < ? AND kind IN (?, ?, ?) ORDER BY key, resident_id",
            ("z", "{", "pinyin", "initials", "latin"),
        )
    )
    assert "USING PRIMARY KEY (key>? AND key<?)" in plan
    assert "TEMP B-TREE" not in plan


def test_import_does_not_load_pypinyin() -> None:
    code = "import sys, node._search; sys.exit('pypinyin' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


# -- property ------------------------------------------------------------------

SURNAMES = {  # surname: the syllables its first pinyin variant must start with
    "王": "wang", "李": "li", "张": "zhang", "刘": "liu", "陈": "chen", "杨": "yang",
    "黄": "huang", "赵": "zhao", "吴": "wu", "周": "zhou", "徐": "xu", "孙": "sun",
    "马": "ma", "朱": "zhu", "胡": "hu", "郭": "guo", "何": "he", "林": "lin",
    "曾": "zeng", "单": "shan", "解": "xie", "仇": "qiu", "朴": "piao", "翟": "zhai",
    "欧阳": "ou yang", "司马": "si ma", "诸葛": "zhu ge", "尉迟": "yu chi", "吕": "lv",
}  # fmt: skip
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红文国建志长乐重行"


@pytest.fixture(scope="module")
def shared_conn() -> Iterator[sqlite3.Connection]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "node.db")
        try:
            yield db.writer
        finally:
            db.close()


@settings(max_examples=150, deadline=None)
@given(
    surname=st.sampled_from(sorted(SURNAMES)),
    given_chars=st.text(alphabet=GIVEN, min_size=1, max_size=2),
)
def test_initials_of_first_variant_find_the_name(
    shared_conn: sqlite3.Connection, surname: str, given_chars: str
) -> None:
    from pypinyin import lazy_pinyin

    name = surname + given_chars
    shared_conn.execute("BEGIN IMMEDIATE")
    shared_conn.execute("DELETE FROM search_keys")
    index_resident(shared_conn, "other", {"name": "钱多多"})
    index_resident(shared_conn, "me", {"name": name})
    shared_conn.execute("COMMIT")
    keys = search_keys({"name": name})
    first_pinyin = next(k for k, kind in keys if kind == "pinyin")
    first_initials = next(k for k, kind in keys if kind == "initials")
    syllables = SURNAMES[surname].split() + [lazy_pinyin(c)[0] for c in given_chars]
    assert first_pinyin == "".join(syllables)
    assert first_initials == "".join(s[0] for s in syllables)
    assert SearchHit("me", "initials", True) in find(shared_conn, first_initials)
    assert "me" in ids(shared_conn, first_pinyin)
    assert "me" in ids(shared_conn, name)
