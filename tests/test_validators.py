"""Validators: ID check digit, dates, codes — properties over many inputs, messages a clerk can act on."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

import schemas
from schemas import RecordInvalid, parse_id_number

from .conftest import encounter_data, resident_data

TODAY = dt.date(2026, 11, 25)

bodies = st.builds(
    lambda day, seq: f"511321{day:%Y%m%d}{seq:03d}",
    st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY),
    st.integers(0, 999),
)


def errors_of(exc: pytest.ExceptionInfo[RecordInvalid]) -> dict[str, str]:
    return {e.field: e.message for e in exc.value.errors}


@given(bodies)
def test_check_digit_makes_a_valid_number(body: str) -> None:
    assert parse_id_number(body + schemas.check_digit(body)) == body + schemas.check_digit(body)


@given(bodies, st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_error_is_caught(body: str, pos: int, delta: int) -> None:
    good = body + schemas.check_digit(body)
    wrong = good[:pos] + str((int(good[pos]) + delta) % 10) + good[pos + 1 :]
    with pytest.raises(schemas.IdNumberError):
        parse_id_number(wrong)


@given(bodies)
def test_wrong_check_digit_names_the_expected_one(body: str) -> None:
    right = schemas.check_digit(body)
    wrong = "0" if right != "0" else "1"
    with pytest.raises(schemas.IdNumberError, match=f"expected {right}"):
        parse_id_number(body + wrong)


@pytest.mark.parametrize("value", ["111111111111111111", "000000000000000000", "11111111111111111X"])
def test_placeholder_numbers_are_refused(value: str) -> None:
    with pytest.raises(schemas.IdNumberError):
        parse_id_number(value)


def test_lower_case_x_is_normalised() -> None:
    body = next(b for b in (f"51132119800101{i:03d}" for i in range(1000)) if schemas.check_digit(b) == "X")
    assert parse_id_number(body + "x") == body + "X"


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY))
def test_real_dates_pass(day: dt.date) -> None:
    data = resident_data(birth=day.isoformat(), id_number=None, id_number_missing="not_at_hand")
    assert schemas.validate("resident", data, today=TODAY)["birth_date"] == day.isoformat()


@pytest.mark.parametrize("text", ["1980-02-30", "1981-02-29", "1980-13-01", "1980-00-10", "1980-04-31"])
def test_impossible_dates_are_named(text: str) -> None:
    data = resident_data(id_number=None, id_number_missing="not_at_hand")
    data["birth_date"] = text
    with pytest.raises(RecordInvalid) as exc:
        schemas.validate("resident", data, today=TODAY)
    assert errors_of(exc)["birth_date"] == f"{text} is not a date"


@given(st.text(max_size=12).filter(lambda s: len(s.strip()) != 10))
def test_malformed_dates_never_crash(text: str) -> None:
    data = resident_data(id_number=None, id_number_missing="not_at_hand")
    data["birth_date"] = text
    with pytest.raises(RecordInvalid) as exc:
        schemas.validate("resident", data, today=TODAY)
    assert "birth_date" in errors_of(exc)


def test_future_birth_date_refused() -> None:
    data = resident_data(birth="2027-01-01", id_number=None, id_number_missing="newborn")
    with pytest.raises(RecordInvalid) as exc:
        schemas.validate("resident", data, today=TODAY)
    assert errors_of(exc)["birth_date"] == "2027-01-01 is in the future"


def test_id_number_must_agree_with_birth_date_and_sex() -> None:
    data = resident_data(birth="1970-05-12", sex="1")
    data["birth_date"] = "1970-05-13"
    with pytest.raises(RecordInvalid) as exc:
        schemas.validate("resident", data, today=TODAY)
    assert "does not match birth_date 1970-05-13" in errors_of(exc)["id_number"]
    data = resident_data(birth="1970-05-12", sex="1")
    data["sex"] = "2"
    with pytest.raises(RecordInvalid) as exc:
        schemas.validate("resident", data, today=TODAY)
    assert "says sex 1" in errors_of(exc)["id_number"]


def test_adults_need_an_id_number_or_a_reason() -> None:
    data = resident_data(id_number=None)
    with pytest.raises(RecordInvalid) as exc:
        schemas.validate("resident", data, today=TODAY)
    assert "is required" in errors_of(exc)["id_number"]
    newborn = resident_data(birth="2026-11-01", id_number=None)
    assert "id_number" not in schemas.validate("resident", newborn, today=TODAY)


@given(st.text(min_size=1, max_size=6))
def test_unknown_codes_are_refused_with_the_list_named(code: str) -> None:
    codes = schemas.code_list("sex")
    data = resident_data(id_number=None, id_number_missing="not_at_hand")
    data["sex"] = code
    if code.strip() in codes:
        return
    with pytest.raises(RecordInvalid) as exc:
        schemas.validate("resident", data, today=TODAY)
    assert "is not a known" in errors_of(exc)["sex"]


def test_unknown_icd10_code_is_refused() -> None:
    from .conftest import encounter_data

    data = encounter_data(icd10="Q99.99")
    with pytest.raises(RecordInvalid) as exc:
        schemas.validate("encounter", data)
    assert errors_of(exc)["diagnoses.0.icd10"] == "'Q99.99' is not an ICD-10 code used in primary care"


def test_icd10_is_searchable_in_chinese_and_english() -> None:
    icd = schemas.code_list("icd10")
    assert any(c.code == "I10" for c in icd.search("高血压"))
    assert any(c.code == "I10" for c in icd.search("hypertension"))
    assert icd.search("E11")[0].code.startswith("E11")


def test_unknown_fields_are_named() -> None:
    data = resident_data()
    data["favourite_colour"] = "red"
    with pytest.raises(RecordInvalid) as exc:
        schemas.validate("resident", data, today=TODAY)
    assert errors_of(exc)["favourite_colour"] == "is not a field of this record"


def test_village_name_must_match_its_code() -> None:
    data = resident_data()
    data["address"] = {"division_code": data["address"]["division_code"], "village": "不存在村"}
    with pytest.raises(RecordInvalid) as exc:
        schemas.validate("resident", data, today=TODAY)
    assert "does not match division code" in errors_of(exc)["address.village"]


def test_village_names_are_filled_from_the_code() -> None:
    out = schemas.validate("resident", resident_data(), today=TODAY)
    assert out["address"]["village"] and out["address"]["township"]


def test_version_1_residents_stay_readable() -> None:
    data = resident_data()
    data["ncms_number"] = "NC5113210001"
    out = schemas.validate("resident", data, version=1, today=TODAY)
    assert out["insurance_number"] == "NC5113210001"
    assert "ncms_number" not in out


def test_a_newer_version_is_held_not_guessed() -> None:
    with pytest.raises(schemas.VersionTooNew, match="upgrade rhip"):
        schemas.validate("resident", resident_data(), version=99, today=TODAY)


@pytest.mark.parametrize(
    "data",
    [
        encounter_data(),
        {**encounter_data(), "visit_time": "2026-02-30T10:00"},
        {**encounter_data(), "diagnoses": [{"icd10": "Q99.99", "primary": True}]},
        {"visit_time": "x"},
        "not a map",
    ],
)
def test_check_gives_the_verdict_validate_gives(data: object) -> None:
    try:
        schemas.validate("encounter", data, today=dt.date(2026, 11, 25))
    except schemas.RecordInvalid as exc:
        with pytest.raises(schemas.RecordInvalid) as checked:
            schemas.check("encounter", data, today=dt.date(2026, 11, 25))
        assert checked.value.errors == exc.errors
    else:
        assert schemas.check("encounter", data, today=dt.date(2026, 11, 25)) is None
