"""Money at the desk: whole fen, catalogue prices, the insurance rule, and records that must add up."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import schemas
from schemas import ChargeItem, OutpatientRule, YearToDate, fen_to_yuan, split, yuan_to_fen

from .test_record_types import EXAMPLES, REF, TODAY

CATEGORIES = [
    "registration",
    "consultation",
    "drug_western",
    "drug_tcm",
    "lab",
    "imaging",
    "treatment",
    "material",
]

items_st = st.lists(
    st.builds(
        ChargeItem,
        amount_fen=st.integers(0, 5_000_000),
        category=st.sampled_from(CATEGORIES),
        insured=st.booleans(),
    ),
    max_size=40,
)
rule_st = st.builds(
    OutpatientRule,
    scheme=st.just("test"),
    deductible_fen=st.integers(0, 200_000),
    ratio_permille=st.integers(0, 1000),
    annual_cap_fen=st.integers(0, 1_000_000),
    covered_categories=st.frozensets(st.sampled_from(CATEGORIES)),
)
ytd_st = st.builds(
    YearToDate, deductible_met_fen=st.integers(0, 300_000), insurance_paid_fen=st.integers(0, 2_000_000)
)


@given(items=items_st, rule=st.none() | rule_st, ytd=ytd_st)
def test_the_shares_always_add_up_and_are_never_negative(
    items: list[ChargeItem], rule: OutpatientRule | None, ytd: YearToDate
) -> None:
    s = split(items, rule, ytd)
    total = sum(i.amount_fen for i in items)
    assert s.total_fen == total and s.insurance_fen + s.self_fen == total
    assert min(s.insurance_fen, s.self_fen, s.eligible_fen, s.deductible_fen) >= 0
    assert all(isinstance(v, int) for v in (s.insurance_fen, s.self_fen, s.eligible_fen, s.deductible_fen))
    if rule is None:
        assert s.insurance_fen == 0 and s.cap_remaining_fen is None
        return
    covered = sum(i.amount_fen for i in items if i.insured and i.category in rule.covered_categories)
    assert s.eligible_fen == covered
    assert s.deductible_fen == min(covered, max(0, rule.deductible_fen - ytd.deductible_met_fen))
    assert s.cap_remaining_fen == max(0, rule.annual_cap_fen - ytd.insurance_paid_fen)
    assert s.insurance_fen <= s.cap_remaining_fen
    exact = Decimal(covered - s.deductible_fen) * rule.ratio_permille / 1000
    if s.insurance_fen < s.cap_remaining_fen:  # the ratio decides, to the nearest fen (half up)
        assert abs(Decimal(s.insurance_fen) - exact) <= Decimal("0.5")
        assert s.insurance_fen == int((exact + Decimal("0.5")).to_integral_value(rounding="ROUND_FLOOR"))
    else:
        assert exact + Decimal("0.5") >= s.cap_remaining_fen


@given(items=items_st, rule=rule_st, ytd=ytd_st, extra=st.integers(0, 100_000))
def test_more_charges_never_lower_the_insurance_share(
    items: list[ChargeItem], rule: OutpatientRule, ytd: YearToDate, extra: int
) -> None:
    more = [*items, ChargeItem(extra, sorted(rule.covered_categories or {"lab"})[0], True)]
    assert split(more, rule, ytd).insurance_fen >= split(items, rule, ytd).insurance_fen


def test_the_schemes_rules_are_data() -> None:
    resident = schemas.outpatient_rule("urban_rural_resident")
    assert resident is not None and (
        resident.deductible_fen,
        resident.ratio_permille,
        resident.annual_cap_fen,
    ) == (
        0,
        550,
        40_000,
    )
    employee = schemas.outpatient_rule("employee")
    assert employee is not None and employee.deductible_fen == 80_000
    assert schemas.outpatient_rule("self_pay") is None
    with pytest.raises(KeyError):
        schemas.outpatient_rule("gold-plan")
    # a 100-yuan visit: 55 yuan from the fund, 45 from the resident
    s = split([ChargeItem(10_000, "drug_western", True)], resident, YearToDate())
    assert (s.insurance_fen, s.self_fen) == (5_500, 4_500)
    # what the scheme does not cover is the resident's
    s = split(
        [ChargeItem(10_000, "drug_western", True), ChargeItem(250, "material", False)], resident, YearToDate()
    )
    assert (s.eligible_fen, s.insurance_fen, s.self_fen) == (10_000, 5_500, 4_750)


@given(fen=st.integers(0, 10**12))
def test_fen_and_yuan_round_trip(fen: int) -> None:
    assert yuan_to_fen(fen_to_yuan(fen)) == fen


@pytest.mark.parametrize("bad", ["1.005", "-1", "abc", "NaN", "Infinity", "1e-3", ""])
def test_amounts_that_are_not_whole_fen_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="yuan"):
        yuan_to_fen(bad)


def test_every_catalogue_price_is_whole_fen() -> None:
    for list_name in ("drug", "service"):
        for code in schemas.code_list(list_name).codes:
            fen = (schemas.drug_price_fen if list_name == "drug" else schemas.service_price_fen)(code.code)
            assert fen > 0 and fen_to_yuan(fen) == f"{Decimal(str(code.extra['price'])):.2f}", code.code
    kinds = {c.extra["kind"] for c in schemas.code_list("service").codes}
    assert kinds == {"fee", "treatment", "lab", "imaging", "ecg", "ultrasound"}
    for c in schemas.code_list("service").codes:
        assert c.extra["category"] in schemas.code_list("charge_category"), c.code
        if c.extra["kind"] in schemas.EXAM_KINDS:
            assert c.extra["kind"] in schemas.code_list("order_kind"), c.code


# --- records that must add up -------------------------------------------------------------------------


def errors(name: str, data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(schemas.RecordInvalid) as info:
        schemas.validate(name, data, today=TODAY)
    return {e.field: e.message for e in info.value.errors}


def payment(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(EXAMPLES["payment"]())
    for path, value in changes.items():
        node: Any = data
        *parents, last = path.split("__")
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        node[int(last) if isinstance(node, list) else last] = value
    return data


@pytest.mark.parametrize(
    "changes,field,words",
    [
        ({"lines__0__amount_fen": 999}, "lines.0.amount_fen", "is not quantity 1 x unit_price_fen 1000"),
        ({"total_fen": 4000}, "total_fen", "is not the sum of the lines (4680)"),
        ({"settlement__self_fen": 2000}, "settlement.self_fen", "is not total_fen 4680"),
        ({"settlement__eligible_fen": 5000}, "settlement.eligible_fen", "more than total_fen"),
        ({"lines__1__unit_price_fen": 8.4}, "lines.1.unit_price_fen", ""),
        ({"lines__1__quantity": "2"}, "lines.1.quantity", ""),
        ({"lines__0__code": "caviar"}, "lines.0.code", "not in the service catalogue"),
        (
            {
                "lines__2__ref": "01970f3a-1c2b-7d4e-8f90-a1b2c3d4e5f6",
                "lines__2__code": "general_consultation",
                "lines__2__source": "registration",
            },
            "lines.2",
            "twice",
        ),
        ({"method": "shells"}, "method", "not a known payment method"),
        ({"receipt_number": "R 1"}, "receipt_number", "is not a receipt number"),
    ],
)
def test_a_payment_that_does_not_add_up_names_the_field(
    changes: dict[str, Any], field: str, words: str
) -> None:
    got = errors("payment", payment(**changes))
    assert field in got, got
    assert words in got[field]


def test_a_self_paying_resident_gets_nothing_from_the_fund() -> None:
    data = payment(settlement__scheme="self_pay")
    del data["settlement"]["insurance_number"]
    assert errors("payment", data) == {"settlement.insurance_fen": "must be 0 for a self-paying resident"}


@pytest.mark.parametrize(
    "name,changes,field,words",
    [
        ("visit_step", {"step": "triaged"}, "encounter_id", "is not recorded with step triaged"),
        (
            "visit_step",
            {"step": "cancelled", "encounter_id": None, "order_ids": [], "fees": []},
            "reason",
            "say why",
        ),
        (
            "visit_step",
            {"step": "reported", "encounter_id": None, "fees": []},
            "report_ids",
            "name the report",
        ),
        (
            "visit_step",
            {"fees": [{"service": "cbc"}]},
            "fees.0.service",
            "is lab (血常规), not a fee or treatment",
        ),
        (
            "visit",
            {"scheme": "employee", "insurance_number": None},
            "insurance_number",
            "is required for 城镇职工",
        ),
        (
            "visit",
            {"card_number": None},
            "card_number",
            "is required when the resident was identified by the card",
        ),
        ("visit", {"queue_number": 0}, "queue_number", "out of range"),
        (
            "service_order",
            {"service": "iv_infusion"},
            "service",
            "is treatment (静脉输液), not an examination",
        ),
        ("service_order", {"kind": "imaging"}, "kind", "contradicts service cbc (a lab order)"),
        ("refund", {"self_fen": 1}, "self_fen", "is not total_fen 4680"),
        ("refund", {"reason": ""}, "reason", "must not be empty"),
        (
            "dispense",
            {"items": [{"index": 0, "drug": "amlodipine_5mg_tab", "quantity": 1}] * 2},
            "items.1.index",
            "twice",
        ),
        ("dispense", {"items": []}, "items", ""),
        ("card_registration", {"signing_key": "XYZ"}, "signing_key", "is not a key id"),
    ],
)
def test_desk_records_name_the_field_at_fault(
    name: str, changes: dict[str, Any], field: str, words: str
) -> None:
    data = {**EXAMPLES[name](), **changes}
    data = {k: v for k, v in data.items() if v is not None}
    got = errors(name, data)
    assert field in got, got
    assert words in got[field], got[field]


def test_an_order_takes_its_kind_from_the_catalogue() -> None:
    body = schemas.validate(
        "service_order", {**EXAMPLES["service_order"](), "service": "abdomen_us"}, today=TODAY
    )
    assert body["kind"] == "ultrasound"


# --- FHIR ---------------------------------------------------------------------------------------------


def test_desk_records_map_to_fhir_with_exact_money_and_linked_resources() -> None:
    from .test_fhir import check_resource, envelope, walk

    pay = schemas.to_fhir(envelope("payment"))
    check_resource(pay)
    assert (pay["resourceType"], pay["status"]) == ("Invoice", "balanced")
    assert pay["totalGross"] == {"value": 46.8, "currency": "CNY"} and pay["totalNet"]["value"] == 21.06
    assert pay["totalPriceComponent"][0]["amount"]["value"] == 25.74
    assert {"system": "https://fhir.rhip.example/r4/sid/receipt", "value": "511321100-20250610-00007"} in pay[
        "identifier"
    ]
    refund = schemas.to_fhir(envelope("refund"))
    assert refund["status"] == "cancelled" and refund["totalGross"]["value"] == -46.8
    # a dispensing of two items: the second points at the first, which holds the record's identifier
    two = {
        **EXAMPLES["dispense"](),
        "items": [
            {"index": 0, "drug": "amlodipine_5mg_tab", "quantity": 1},
            {"index": 1, "drug": "amoxicillin_250mg_cap", "quantity": 2},
        ],
    }
    md = schemas.to_fhir(envelope("dispense", two))
    check_resource(md)
    assert [c["resourceType"] for c in md["contained"]] == ["MedicationDispense"]
    assert md["contained"][0]["supportingInformation"] == [{"reference": "#"}]
    # a triage step's vitals are Observations listed as the step's output
    step = {
        "visit_id": REF[0],
        "at": "2025-06-10T08:20",
        "step": "triaged",
        "vitals": {"temperature_c": 38.2, "systolic": 130, "diastolic": 85},
    }
    task = schemas.to_fhir(envelope("visit_step", step))
    check_resource(task)
    outputs = [o["valueReference"]["reference"] for o in task["output"]]
    assert sorted(outputs) == sorted(f"#{c['id']}" for c in task["contained"])
    assert {c["resourceType"] for c in task["contained"]} == {"Observation"}
    order = schemas.to_fhir(envelope("service_order"))
    assert (order["priority"], order["category"][0]["coding"][0]["code"]) == ("urgent", "lab")
    visit = schemas.to_fhir(envelope("visit"))
    assert visit["status"] == "arrived" and visit["serviceType"]["text"] == "全科"
    assert any(k == "value" and v == "12" for k, v in walk(visit["identifier"]))
