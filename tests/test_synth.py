"""The synthetic township: reproducible, valid item by item, families that hold together, loadable."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import schemas
from cli import rhip
from node import NodeStore, file_tree, init_home
from node._synth import fill
from schemas import Kind
from schemas.synthetic import SynthItem, SynthRecord, SynthResident, generate, township_codes

TODAY = dt.date(2026, 11, 25)


@pytest.fixture(scope="module")
def township() -> list[SynthItem]:
    return list(generate(residents=600, years=3, seed=11, today=TODAY))


def residents_of(items: list[SynthItem]) -> list[SynthResident]:
    return [i for i in items if isinstance(i, SynthResident)]


def records_of(items: list[SynthItem]) -> list[SynthRecord]:
    return [i for i in items if isinstance(i, SynthRecord)]


def fake_id(key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, key))


def resolved(item: SynthItem) -> dict[str, Any]:
    """The item's data with each ref set to a stand-in id (as the loader sets the real one)."""
    from node._synth import _resolve

    return _resolve(item.data, item.refs, {key: fake_id(key) for key in item.refs.values()})


def age_on(birth: str, day: dt.date) -> float:
    return (day - dt.date.fromisoformat(birth)).days / 365.25


# --- the generator ---------------------------------------------------------------------------------


def test_same_seed_gives_identical_output() -> None:
    a = list(generate(residents=200, years=2, seed=5, today=TODAY))
    b = list(generate(residents=200, years=2, seed=5, today=TODAY))
    assert a == b
    assert [i.key for i in a] == [i.key for i in b]


def test_different_seeds_differ() -> None:
    a = residents_of(list(generate(residents=100, years=0, seed=1, today=TODAY)))
    b = residents_of(list(generate(residents=100, years=0, seed=2, today=TODAY)))
    assert [r.data["name"] for r in a] != [r.data["name"] for r in b]


def test_exactly_the_residents_asked_for_plus_births(township: list[SynthItem]) -> None:
    people = residents_of(township)
    assert sum(not r.newborn for r in people) == 600
    births = [r for r in records_of(township) if r.type == "birth"]
    assert len(births) == sum(r.newborn for r in people) > 0


def test_every_item_validates(township: list[SynthItem]) -> None:
    problems = []
    for item in township:
        name = "resident" if isinstance(item, SynthResident) else item.type
        try:
            schemas.validate(name, resolved(item), today=TODAY)
        except schemas.SchemaError as exc:
            problems.append(f"{item.key} {name}: {exc}")
    assert problems == []
    kinds = {r.type for r in records_of(township)}
    expected = {
        "encounter", "prescription", "lab_report", "imaging_report", "hypertension_followup",
        "diabetes_followup", "health_exam", "elderly_assessment", "immunization", "child_check",
        "pregnancy_registration", "prenatal_visit", "delivery", "postpartum_visit", "birth",
        "newborn_visit", "death", "allergy", "referral", "inpatient_stay", "inpatient_order",
        "discharge_summary",
    }  # fmt: skip
    assert expected <= kinds


def test_refs_point_back_within_the_household(township: list[SynthItem]) -> None:
    seen: set[str] = set()
    for item in township:
        household = item.key.split("/")[0]
        targets = list(item.refs.values())
        if isinstance(item, SynthRecord):
            targets.append(item.resident_key)
        for key in targets:
            assert key in seen, f"{item.key} names {key} before it was yielded"
            assert key.split("/")[0] == household
        assert item.key not in seen
        seen.add(item.key)


def test_id_numbers_are_valid_unique_and_local(township: list[SynthItem]) -> None:
    numbers = [r.data["id_number"] for r in residents_of(township) if "id_number" in r.data]
    assert len(numbers) == len(set(numbers)) > 500
    for number, r in ((r.data["id_number"], r) for r in residents_of(township) if "id_number" in r.data):
        assert schemas.parse_id_number(number) == number
        assert number.startswith("511321")
        assert schemas.id_number_birth_date(number).isoformat() == r.data["birth_date"]
        assert schemas.id_number_sex(number) == r.data["sex"]
    missing = Counter(
        r.data.get("id_number_missing") for r in residents_of(township) if "id_number" not in r.data
    )
    assert set(missing) <= {"newborn", "not_at_hand"}


def test_card_numbers_are_unique(township: list[SynthItem]) -> None:
    cards = [r.data["card_number"] for r in residents_of(township) if "card_number" in r.data]
    assert len(cards) == len(set(cards))
    assert len(cards) > 0.7 * len(residents_of(township))


def test_families_link(township: list[SynthItem]) -> None:
    people = {r.key: r for r in residents_of(township)}
    mothers = fathers = 0
    for r in people.values():
        born = dt.date.fromisoformat(r.data["birth_date"])
        for path, key in r.refs.items():
            other = people[key]
            older = age_on(other.data["birth_date"], born)
            if path == "family.mother_id":
                mothers += 1
                assert other.data["sex"] == "2" and older >= 15, (r.data["name"], other.data["name"])
            elif path == "family.father_id":
                fathers += 1
                assert other.data["sex"] == "1" and older >= 15
                if r.data.get("ethnicity") == "01" and not r.data.get("name_latin"):
                    surname = (
                        other.data["name"][:2]
                        if other.data["name"][:2] in ("欧阳", "司马", "诸葛")
                        else other.data["name"][0]
                    )
                    assert r.data["name"].startswith(surname)  # children take the father's surname
            else:
                assert path == "family.spouse_id"
                assert other.data["sex"] != r.data["sex"]
    assert mothers > 50 and fathers > 50


def test_births_carry_the_whole_pregnancy(township: list[SynthItem]) -> None:
    records = records_of(township)
    by_key = {i.key: i for i in township}
    for birth in (r for r in records if r.type == "birth"):
        mother = by_key[birth.refs["mother_id"]]
        pregnancy = by_key[birth.refs["pregnancy_id"]]
        assert isinstance(pregnancy, SynthRecord) and pregnancy.type == "pregnancy_registration"
        assert pregnancy.resident_key == mother.key
        visits = [
            r for r in records if r.refs.get("pregnancy_id") == pregnancy.key and r.type == "prenatal_visit"
        ]
        assert 3 <= len(visits) <= 5
        delivery = next(
            r for r in records if r.type == "delivery" and r.refs["pregnancy_id"] == pregnancy.key
        )
        assert birth.resident_key in delivery.refs.values()
        child = by_key[birth.resident_key]
        assert isinstance(child, SynthResident) and child.newborn
        assert child.refs["family.mother_id"] == mother.key


def test_death_is_the_last_record_of_the_deceased(township: list[SynthItem]) -> None:
    last: dict[str, SynthRecord] = {}
    for r in records_of(township):
        last[r.resident_key] = r
    deaths = [r for r in records_of(township) if r.type == "death"]
    assert deaths
    for d in deaths:
        assert last[d.resident_key] is d
    people = {r.key: r for r in residents_of(township)}
    ages = [age_on(people[d.resident_key].data["birth_date"], TODAY) for d in deaths]
    assert sum(a >= 60 for a in ages) >= 0.7 * len(ages)  # mostly the elderly


def test_a_rural_township_population() -> None:
    items = list(generate(residents=4000, years=1, seed=3, today=TODAY))
    people = [r for r in residents_of(items) if not r.newborn]
    ages = [age_on(r.data["birth_date"], TODAY) for r in people]
    assert 0.18 < sum(a >= 65 for a in ages) / len(ages) < 0.35  # many elderly
    assert sum(20 <= a < 45 for a in ages) / len(ages) < 0.35  # the young work away
    villages = {r.data["address"]["division_code"] for r in people}
    division = schemas.code_list("division")
    assert all(division.get(v) is not None and v.startswith("511321100") and len(v) == 12 for v in villages)
    assert len(villages) == len([c for c in division.codes if c.extra.get("parent") == "511321100"])
    sizes = Counter(Counter(r.data["family"]["household_id"] for r in people).values())
    assert set(sizes) <= set(range(1, 7))
    surnames = Counter(r.data["name"][0] for r in people)
    assert {s for s, _ in surnames.most_common(8)} & {"王", "李", "张", "刘", "陈"}
    assert any(r.data["name"][0] in "曾单解仇朴区查" for r in people)
    assert any(r.data.get("ethnicity") not in (None, "01") for r in people)
    over35 = [r for r, a in zip(people, ages, strict=True) if a >= 35]
    htn = sum(any(h.get("icd10") == "I10" for h in r.data.get("past_history", [])) for r in over35)
    assert 0.15 < htn / len(over35) < 0.4
    shared = Counter(r.data["phone"] for r in people if "phone" in r.data)
    assert any(n > 1 for n in shared.values())  # family members share a phone


def test_outpatient_care_follows_the_seasons() -> None:
    records = records_of(list(generate(residents=2000, years=2, seed=8, today=TODAY)))
    encounters = [r for r in records if r.type == "encounter"]
    respiratory = Counter(
        int(e.data["visit_time"][5:7]) for e in encounters if e.data["diagnoses"][0]["icd10"][0] == "J"
    )
    assert sum(respiratory[m] for m in (12, 1, 2)) > 1.5 * sum(respiratory[m] for m in (6, 7, 8))
    prescribed = {r.refs["encounter_id"] for r in records if r.type == "prescription"}
    assert prescribed == {e.key for e in encounters}  # every visit ends with a prescription
    febrile = [e for e in encounters if e.data["vitals"].get("temperature_c", 37) >= 38]
    assert febrile and all(
        e.data["diagnoses"][0]["icd10"][0] in "JBAHKNT" or e.data["diagnoses"][0]["icd10"] in ("R05", "M10.9")
        for e in febrile
    )


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="residents"):
        next(generate(residents=0, today=TODAY))
    with pytest.raises(ValueError, match="years"):
        next(generate(residents=5, years=-1, today=TODAY))
    with pytest.raises(ValueError, match="township"):
        next(generate(residents=5, today=TODAY, township="110101001"))


def test_any_township_by_code_or_name() -> None:
    code = township_codes()[1]
    name = schemas.code_list("division").get(code)
    assert name is not None
    by_code = list(generate(residents=30, years=1, seed=1, today=TODAY, township=code))
    by_name = list(generate(residents=30, years=1, seed=1, today=TODAY, township=name.zh))
    assert by_code == by_name
    assert all(r.data["address"]["division_code"].startswith(code) for r in residents_of(by_code))


# --- loading into a real node ------------------------------------------------------------------------


def test_fill_a_real_node(tmp_path: Path) -> None:
    home = init_home(tmp_path / "n", clinic="511321100", name="test")
    db = home.database()
    store = NodeStore(db, node_id=home.node_id, today=lambda: TODAY)
    done: list[int] = []
    counts = fill(store, residents=300, years=3, seed=4, today=TODAY, batch=250, progress=done.append)
    conn = db.reader()
    births = conn.execute("SELECT count(*) FROM records WHERE type = 'birth'").fetchone()[0]
    assert births > 0
    assert conn.execute("SELECT count(*) FROM residents").fetchone()[0] == 300 + births == counts["residents"]
    assert counts["records"] > 300
    records = conn.execute("SELECT count(*) FROM records").fetchone()[0]
    assert (
        records
        == conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
        == counts["records"] + counts["residents"]
    )
    assert conn.execute("SELECT count(DISTINCT record_id) FROM outbox").fetchone()[0] == records
    assert done[-1] == 300 and done == sorted(done)
    assert conn.execute("SELECT count(*) FROM residents WHERE deceased_on IS NOT NULL").fetchone()[0] > 0

    child = conn.execute("SELECT resident_id FROM records WHERE type = 'birth' LIMIT 1").fetchone()[0]
    readable = frozenset(rt.name for rt in schemas.record_types() if rt.kind is Kind.CLINICAL)
    tree = file_tree(store, child, readable=readable)
    key_population = next(c for c in tree["categories"] if c["category"] == "key_population")
    prenatal = next(g for g in key_population["groups"] if g["subcategory"] == "prenatal_mother")
    assert {r["type"] for r in prenatal["records"]} >= {
        "pregnancy_registration",
        "prenatal_visit",
        "delivery",
    }
    assert tree["resident"]["family"]["mother_id"] == tree["mother_records_read"][0]
    db.close()


def test_fill_refuses_a_day_after_the_nodes_today(tmp_path: Path) -> None:
    home = init_home(tmp_path / "n", clinic="511321100", name="test")
    db = home.database()
    store = NodeStore(db, node_id=home.node_id, today=lambda: TODAY)
    with pytest.raises(ValueError, match="today"):
        fill(store, residents=5, today=TODAY + dt.timedelta(days=1))
    db.close()


def test_cli_synth(tmp_path: Path) -> None:
    home = str(tmp_path / "clinic")
    runner = CliRunner()
    r = runner.invoke(
        rhip, ["node", "init", "--home", home, "--clinic", "511321100", "--name", "南隆镇卫生院"]
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(rhip, ["synth", "--home", home, "--residents", "50", "--years", "1", "--seed", "3"])
    assert r.exit_code == 0, r.output
    assert "synthesised" in r.stdout and "records" in r.stdout
    for args, option in (
        (["--home", home, "--residents", "0"], "--residents"),
        (["--home", home, "--residents", "5", "--years", "-1"], "--years"),
        (["--residents", "5"], "--home"),
        (["--home", str(tmp_path / "nowhere"), "--residents", "5"], "--home"),
    ):
        r = runner.invoke(rhip, ["synth", *args])
        assert r.exit_code == 2, r.output
        assert option in r.output
    r = runner.invoke(rhip, ["synth", "-h"])
    assert r.exit_code == 0 and "Example:" in r.output and "rhip synth --home" in r.output
