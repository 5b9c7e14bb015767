"""Record types of the national basic data set: examples validate, round-trip, and fail usefully."""

from __future__ import annotations

import copy
import datetime as dt
import inspect
import typing
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, BeforeValidator

import schemas

TODAY = dt.date(2025, 6, 30)
REF = ["01970f3a-1c2b-7d4e-8f90-a1b2c3d4e5f6", "01970f3a-1c2b-7d4e-8f90-a1b2c3d4e5f7"]
STUDY_UID = "1.2.840.113619.2.55.3.604688119.969.1268071029.320"
# A woman's identity number (born 1995-03-07, even sequence digit) with a valid check digit.
MOTHER_BODY = "43012419950307002"
MOTHER_ID = MOTHER_BODY + schemas.check_digit(MOTHER_BODY)
MAN_BODY = "43012419950307001"
MAN_ID = MAN_BODY + schemas.check_digit(MAN_BODY)


def code(list_name: str, *preferred: str) -> str:
    """A code of the list: the first preferred one it holds, else its first code."""
    codes = schemas.code_list(list_name)
    return next((c for c in preferred if c in codes), codes.codes[0].code)


def icd(*preferred: str) -> str:
    return code("icd10", *preferred)


def drug() -> str:
    return code("drug")


def rx_item() -> dict[str, Any]:
    return {
        "drug": drug(),
        "dose": "5",
        "dose_unit": code("dose_unit", "mg"),
        "route": code("route", "po"),
        "frequency": code("frequency", "qd"),
        "days": 14,
        "quantity": 14,
    }


def chronic_followup(**extra: Any) -> dict[str, Any]:
    return {
        "followup_date": "2025-06-10",
        "method": "clinic",
        "systolic": 142,
        "diastolic": 88,
        "weight_kg": 68.5,
        "heart_rate": 76,
        "cigarettes_per_day": 0,
        "salt_intake": "moderate",
        "adherence": "regular",
        "control": "uncontrolled",
        "medications": [
            {"drug": drug(), "dose": "5mg", "frequency": code("frequency", "qd")},
        ],
        "next_followup": "2025-09-10",
        **extra,
    }


EXAMPLES: dict[str, Callable[[], dict[str, Any]]] = {
    "inpatient_stay": lambda: {
        "inpatient_number": "ZY2025-0042",
        "admission_time": "2025-05-02T09:30",
        "admission_route": "outpatient",
        "discharge_time": "2025-05-09T10:00",
        "department": "内科",
        "ward": "一病区",
        "bed": "12",
        "admitting_diagnosis": icd("J18.9", "J18"),
        "discharge_diagnoses": [
            {"icd10": icd("J18.9", "J18"), "primary": True, "outcome": "cured"},
            {"icd10": icd("I10"), "outcome": "improved"},
        ],
        "operations": [{"name": "胸腔穿刺术", "date": "2025-05-03", "code": "34.91"}],
        "attending_doctor": "李明",
        "outcome": "routine",
        "total_cost": "3856.40",
        "insurance_paid": "2892.30",
    },
    "inpatient_order": lambda: {
        "stay_id": REF[0],
        "ordered_at": "2025-05-02T10:00",
        "kind": "long_term",
        "content": "阿莫西林 0.5g 口服 每日三次",
        "drug": drug(),
        "dose": "0.5",
        "dose_unit": code("dose_unit", "g"),
        "route": code("route", "po"),
        "frequency": code("frequency", "tid"),
        "doctor": "李明",
        "stopped_at": "2025-05-08T08:00",
    },
    "discharge_summary": lambda: {
        "stay_id": REF[0],
        "admission_time": "2025-05-02T09:30",
        "discharge_time": "2025-05-09T10:00",
        "admission_condition": "发热咳嗽3天",
        "course_in_hospital": "入院后予抗感染、化痰治疗，体温正常",
        "discharge_condition": "无发热，咳嗽明显减轻",
        "discharge_diagnoses": [{"icd10": icd("J18.9", "J18"), "primary": True, "outcome": "cured"}],
        "discharge_medication": [rx_item()],
        "follow_up_advice": "一周后门诊复查血常规",
        "doctor": "李明",
    },
    "lab_report": lambda: {
        "reported_at": "2025-06-01T11:20",
        "collected_at": "2025-06-01T08:05",
        "specimen": "serum",
        "panel_name": "血生化",
        "panel_code": "BIO",
        "encounter_id": REF[0],
        "items": [
            {
                "code": "GLU",
                "name": "葡萄糖",
                "value": 7.2,
                "unit": "mmol/L",
                "reference_low": 3.9,
                "reference_high": 6.1,
            },
            {
                "code": "TC",
                "name": "总胆固醇",
                "value": "4.8",
                "unit": "mmol/L",
                "reference_low": 0,
                "reference_high": 5.2,
                "abnormal": "N",
            },
            {"name": "尿蛋白", "value": "阴性", "reference_range": "阴性"},
        ],
        "lab_name": "镇卫生院检验科",
        "reviewer": "王芳",
    },
    "imaging_report": lambda: {
        "reported_at": "2025-06-01T15:00",
        "examined_at": "2025-06-01T14:30",
        "modality": "DX",
        "body_part": "CHEST",
        "study_uid": STUDY_UID,
        "accession_number": "A20250601001",
        "findings": "双肺纹理清晰，未见实质性病变",
        "conclusion": "心肺膈未见异常",
        "positive": False,
        "reporting_doctor": "赵强",
    },
    "health_exam": lambda: {
        "exam_date": "2025-04-15",
        "symptoms": ["headache", "dizziness"],
        "vitals": {"systolic": 150, "diastolic": 92, "height_cm": 165, "weight_kg": 72},
        "waist_cm": 90,
        "lifestyle": {
            "smoking_status": "current",
            "cigarettes_per_day": 10,
            "drinking_status": "occasional",
            "exercise_frequency": "weekly",
            "diet": ["salty", "oily"],
        },
        "organ_function": {
            "vision_left": 0.8,
            "vision_right": 1.0,
            "hearing": "heard",
            "motor_function": "able",
        },
        "auxiliary": {"fasting_glucose": 6.4, "ecg": "窦性心律", "b_ultrasound": "脂肪肝"},
        "health_problems": [icd("I10")],
        "assessment": "abnormal",
        "abnormalities": ["血压偏高", "脂肪肝"],
        "guidance": ["chronic_management", "quit_smoking"],
    },
    "pregnancy_registration": lambda: {
        "registered_on": "2025-03-01",
        "last_menstrual_period": "2024-12-20",
        "gravidity": 2,
        "parity": 1,
        "high_risk_factors": ["瘢痕子宫"],
        "husband_name": "张伟",
        "first_check": {
            "gestational_weeks": 10,
            "weight_kg": 55,
            "systolic": 110,
            "diastolic": 70,
            "hemoglobin": 118,
            "hbsag": "negative",
            "syphilis": "negative",
            "hiv": "negative",
        },
    },
    "prenatal_visit": lambda: {
        "pregnancy_id": REF[0],
        "visit_date": "2025-05-20",
        "gestational_weeks": 21,
        "gestational_days": 4,
        "weight_kg": 60,
        "systolic": 112,
        "diastolic": 72,
        "fundal_height_cm": 20,
        "fetal_heart_rate": 142,
        "high_risk": True,
        "high_risk_factors": ["瘢痕子宫"],
        "next_visit_date": "2025-06-20",
    },
    "delivery": lambda: {
        "pregnancy_id": REF[0],
        "delivery_time": "2025-06-05T03:40+08:00",
        "gestational_weeks": 39,
        "mode": "cesarean",
        "place": "hospital",
        "outcome": "good",
        "blood_loss_ml": 350,
        "newborns": [
            {
                "sex": "2",
                "weight_g": 3250,
                "length_cm": 50,
                "apgar_1min": 9,
                "apgar_5min": 10,
                "child_resident_id": REF[1],
            }
        ],
    },
    "postpartum_visit": lambda: {
        "pregnancy_id": REF[0],
        "visit_date": "2025-06-12",
        "days_after_delivery": 7,
        "systolic": 118,
        "diastolic": 76,
        "breast": {"status": "normal"},
        "lochia": {"status": "normal"},
        "uterus": {"status": "normal"},
        "wound": {"status": "normal"},
        "classification": "normal",
    },
    "newborn_visit": lambda: {
        "visit_date": "2025-06-12",
        "days_old": 7,
        "pregnancy_id": REF[0],
        "birth_weight_g": 3250,
        "weight_g": 3300,
        "feeding": "breast",
        "jaundice": "face",
        "umbilical_cord": "attached",
        "next_visit_date": "2025-07-05",
    },
    "child_check": lambda: {
        "check_date": "2025-06-01",
        "age_months": 12,
        "weight_kg": 9.6,
        "height_cm": 75.5,
        "head_circumference_cm": 46,
        "weight_for_age": "normal",
        "height_for_age": "normal",
        "weight_for_height": "normal",
        "development_passed": True,
        "hemoglobin": 118,
        "next_check_date": "2025-12-01",
    },
    "elderly_assessment": lambda: {
        "assessed_on": "2025-05-01",
        "eating": 0,
        "grooming": 1,
        "dressing": 3,
        "toileting": 1,
        "activity": 1,
    },
    "hypertension_followup": lambda: chronic_followup(symptoms=["headache_dizziness"]),
    "diabetes_followup": lambda: chronic_followup(
        symptoms=["polydipsia", "polyuria"],
        fasting_glucose=8.1,
        hba1c=7.6,
        hypoglycemia="none",
        insulin={"kind": "门冬胰岛素30", "dose": "早12U 晚10U"},
    ),
    "mental_followup": lambda: {
        "followup_date": "2025-06-01",
        "method": "home",
        "risk_level": 1,
        "symptoms": ["self_talk"],
        "insight": "partial",
        "sleep": "fair",
        "diet": "good",
        "social_function": {"personal_care": "good", "work": "fair"},
        "dangerous_behaviours": [{"kind": "mild_trouble", "count": 1}],
        "lock_status": "never",
        "hospitalization": "past",
        "last_discharge_date": "2024-11-02",
        "adherence": "regular",
        "rehabilitation": ["daily_living"],
        "classification": "basically_stable",
        "medications": [{"drug": drug(), "dose": "2mg", "frequency": code("frequency", "bid")}],
        "next_followup": "2025-09-01",
    },
    "tb_followup": lambda: {
        "followup_date": "2025-06-01",
        "method": "home",
        "treatment_month": 2,
        "stage": "intensive",
        "supervisor": "medical_staff",
        "symptoms": ["cough"],
        "sputum_result": "negative",
        "regimen": "2HRZE/4HR",
        "drugs": ["HRZE"],
        "dosing": "daily",
        "missed_doses": 1,
        "next_followup": "2025-07-01",
    },
    "allergy": lambda: {
        "recorded_on": "2025-01-10",
        "substance": "青霉素",
        "substance_category": "drug",
        "drug": drug(),
        "reaction": "全身皮疹",
        "severity": "moderate",
        "onset_on": "2010-01-01",
    },
    "immunization": lambda: {
        "given_at": "2025-06-05T10:15",
        "vaccine": "HepB",
        "dose_number": 1,
        "lot_number": "202503B12",
        "manufacturer": "深圳康泰",
        "site": "R_deltoid",
        "route": code("route", "im"),
        "administered_by": "周丽",
        "next_due_on": "2025-07-05",
    },
    "consent": lambda: {
        "given_on": "2025-06-01",
        "decision": "permit",
        "signed_by": "李秀兰",
        "witness": "周丽",
    },
    "referral": lambda: {
        "referred_at": "2025-06-02T16:00",
        "direction": "out",
        "from_clinic": "THC430124001",
        "to_clinic": "CH430124",
        "reason": "血压控制不佳，需进一步检查",
        "preliminary_diagnoses": [icd("I10")],
        "treatment_given": "氨氯地平 5mg qd",
        "urgency": "routine",
    },
    "referral_response": lambda: {
        "responded_at": "2025-06-03T08:30",
        "referral_id": REF[0],
        "decision": "declined",
        "reason": "本院心内科床位已满，建议转市人民医院",
        "responded_by": "陈主任",
    },
    "consultation": lambda: {
        "requested_at": "2025-06-02T09:00",
        "requesting_clinic": "THC430124001",
        "consulting_clinic": "CH430124",
        "question": "胸片示右下肺阴影，请协助诊断",
        "diagnoses": [icd("J18.9", "J18")],
        "attachment_ids": [REF[0]],
        "answer": "考虑社区获得性肺炎，建议抗感染治疗后复查",
        "answered_at": "2025-06-02T15:30",
        "answered_by": "陈主任",
    },
    "birth": lambda: {
        "birth_time": "2025-06-05T03:40",
        "place": "hospital",
        "sex": "1",
        "weight_g": 3250,
        "length_cm": 50,
        "gestational_weeks": 39,
        "mother_id": REF[0],
        "mother_name": "王丽",
        "mother_id_number": MOTHER_ID,
        "father_name": "张伟",
        "pregnancy_id": REF[1],
        "birth_certificate_number": "O430123456",
    },
    "death": lambda: {
        "death_time": "2025-03-01T22:10",
        "place": "home",
        "immediate_cause": "呼吸衰竭",
        "causes_chain": [
            {"description": "呼吸衰竭", "interval": "2天"},
            {"description": "慢性阻塞性肺病急性加重", "icd10": icd("J44.1", "J44")},
        ],
        "underlying_cause": icd("J44.1", "J44"),
        "certifier": "刘医生",
        "certified_on": "2025-03-02",
    },
    # the desk workflow of a visit (schemas/_visit.py, schemas/_billing.py)
    "visit": lambda: {
        "registered_at": "2025-06-10T08:05",
        "queue_number": 12,
        "department": "general",
        "source": "card",
        "card_number": "5113210000000001",
        "scheme": "urban_rural_resident",
        "insurance_number": "R511321700512",
        "fees": [{"service": "general_consultation"}],
    },
    "visit_step": lambda: {
        "visit_id": REF[0],
        "at": "2025-06-10T08:40",
        "step": "consulted",
        "workstation": "诊室2",
        "encounter_id": REF[1],
        "order_ids": ["01970f3a-1c2b-7d4e-8f90-a1b2c3d4e5f8"],
        "fees": [{"service": "iv_infusion", "quantity": 2}],
    },
    "service_order": lambda: {
        "ordered_at": "2025-06-10T08:35",
        "service": "cbc",
        "visit_id": REF[0],
        "encounter_id": REF[1],
        "urgency": "urgent",
        "doctor": "王医生",
        "clinical_note": "发热3天",
    },
    "payment": lambda: {
        "visit_id": REF[0],
        "paid_at": "2025-06-10T08:50",
        "receipt_number": "511321100-20250610-00007",
        "lines": [
            {
                "source": "registration",
                "ref": REF[0],
                "code": "general_consultation",
                "name": "一般诊疗费",
                "category": "consultation",
                "quantity": 1,
                "unit_price_fen": 1000,
                "amount_fen": 1000,
                "insured": True,
            },
            {
                "source": "drug",
                "ref": REF[1],
                "index": 0,
                "code": drug(),
                "name": "药品",
                "category": "drug_western",
                "quantity": 2,
                "unit_price_fen": 840,
                "amount_fen": 1680,
                "insured": True,
            },
            {
                "source": "service",
                "ref": "01970f3a-1c2b-7d4e-8f90-a1b2c3d4e5f8",
                "code": "cbc",
                "name": "血常规",
                "category": "lab",
                "quantity": 1,
                "unit_price_fen": 2000,
                "amount_fen": 2000,
                "insured": True,
            },
        ],
        "total_fen": 4680,
        "settlement": {
            "scheme": "urban_rural_resident",
            "insurance_number": "R511321700512",
            "eligible_fen": 4680,
            "deductible_fen": 0,
            "ratio_permille": 550,
            "cap_remaining_fen": 40000,
            "insurance_fen": 2574,
            "self_fen": 2106,
        },
        "method": "wechat",
        "cashier": "李收费",
    },
    "refund": lambda: {
        "visit_id": REF[0],
        "payment_id": REF[1],
        "refunded_at": "2025-06-10T09:10",
        "refund_number": "511321100-20250610-00008",
        "lines": [
            {"source": "service", "ref": "01970f3a-1c2b-7d4e-8f90-a1b2c3d4e5f8", "code": "cbc", "quantity": 1}
        ],
        "total_fen": 4680,
        "insurance_fen": 2574,
        "self_fen": 2106,
        "reason": "检查未做，患者要求退费",
        "cashier": "李收费",
    },
    "dispense": lambda: {
        "visit_id": REF[0],
        "prescription_id": REF[1],
        "dispensed_at": "2025-06-10T09:00",
        "items": [{"index": 0, "drug": drug(), "quantity": 2}],
        "pharmacist": "赵药师",
    },
    "card_registration": lambda: {
        "registered_at": "2025-06-10T08:04",
        "card_number": "5113210000000001",
        "authority_code": "511321",
        "signing_key": "0123456789abcdef",
        "from_card": ["name", "sex", "birth_date", "id_number", "card_number"],
    },
}

# name: (category, subcategory, date_field)
REGISTERED = {
    "inpatient_stay": ("medical_service", "inpatient", "admission_time"),
    "inpatient_order": ("medical_service", "inpatient", "ordered_at"),
    "discharge_summary": ("medical_service", "inpatient", "discharge_time"),
    "lab_report": ("lab_imaging", "lab", "reported_at"),
    "imaging_report": ("lab_imaging", "imaging", "reported_at"),
    "health_exam": ("examination", "examination", "exam_date"),
    "pregnancy_registration": ("key_population", "maternal", "registered_on"),
    "prenatal_visit": ("key_population", "maternal", "visit_date"),
    "delivery": ("key_population", "maternal", "delivery_time"),
    "postpartum_visit": ("key_population", "maternal", "visit_date"),
    "newborn_visit": ("key_population", "child", "visit_date"),
    "child_check": ("key_population", "child", "check_date"),
    "elderly_assessment": ("key_population", "elderly", "assessed_on"),
    "hypertension_followup": ("key_population", "hypertension", "followup_date"),
    "diabetes_followup": ("key_population", "diabetes", "followup_date"),
    "mental_followup": ("key_population", "mental", "followup_date"),
    "tb_followup": ("key_population", "tuberculosis", "followup_date"),
    "allergy": ("personal", "allergy", "recorded_on"),
    "immunization": ("immunization", "vaccination", "given_at"),
    "consent": ("personal", "consent", "given_on"),
    "referral": ("referral", "referral", "referred_at"),
    "referral_response": ("referral", "referral", "responded_at"),
    "consultation": ("referral", "consultation", "requested_at"),
    "birth": ("birth_death", "birth", "birth_time"),
    "death": ("birth_death", "death", "death_time"),
    "visit": ("medical_service", "outpatient", "registered_at"),
    "visit_step": ("medical_service", "outpatient", "at"),
    "service_order": ("medical_service", "outpatient", "ordered_at"),
    "payment": ("medical_service", "outpatient", "paid_at"),
    "refund": ("medical_service", "outpatient", "refunded_at"),
    "dispense": ("medical_service", "outpatient", "dispensed_at"),
    "card_registration": ("personal", "registration", "registered_at"),
}


def check(name: str, data: dict[str, Any]) -> dict[str, Any]:
    return schemas.validate(name, data, today=TODAY)


def errors(name: str, data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(schemas.RecordInvalid) as info:
        check(name, data)
    return {e.field: e.message for e in info.value.errors}


def with_(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``base`` with the dotted ``path`` set (or removed when value is ...)."""
    data = copy.deepcopy(base)
    *parents, last = path.split(".")
    node: Any = data
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    key: Any = int(last) if isinstance(node, list) else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return data


# --- registry -------------------------------------------------------------------------------


def test_every_record_type_of_the_data_set_is_registered() -> None:
    for name, (category, subcategory, date_field) in REGISTERED.items():
        rt = schemas.record_type(name)
        assert (rt.category, rt.subcategory, rt.date_field) == (category, subcategory, date_field)
        assert rt.kind == schemas.Kind.CLINICAL
        assert rt.title_zh and rt.title_en
    assert set(EXAMPLES) == set(REGISTERED)


@pytest.mark.parametrize("rt", schemas.record_types(), ids=lambda rt: rt.name)
def test_date_field_exists_and_holds_a_date(rt: schemas.RecordType) -> None:
    assert rt.date_field in rt.model.model_fields
    names = {getattr(m.func, "__name__", "") for m in _validators(rt.model.model_fields[rt.date_field])}
    assert names & {"_date", "_datetime"}, f"{rt.name}.{rt.date_field} is not a date or date-time"


def _validators(info: Any) -> Iterator[BeforeValidator]:
    for m in info.metadata:
        if isinstance(m, BeforeValidator):
            yield m
    yield from _validators_in(info.annotation)


def _validators_in(tp: Any) -> Iterator[BeforeValidator]:
    for arg in typing.get_args(tp):
        if isinstance(arg, BeforeValidator):
            yield arg
        elif not isinstance(arg, str | int | float):
            yield from _validators_in(arg)


def _code_lists_of(model: type[BaseModel], seen: set[type[BaseModel]]) -> Iterator[str]:
    if model in seen:
        return
    seen.add(model)
    for info in model.model_fields.values():
        for v in _validators(info):
            name = getattr(v.func, "__name__", "")
            if name in ("_icd10", "_division"):
                yield name[1:]
            elif name == "check":  # CodeOf(list_name)
                yield inspect.getclosurevars(v.func).nonlocals["list_name"]
        for tp in (info.annotation, *_types_in(info.annotation)):
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                yield from _code_lists_of(tp, seen)


def _types_in(tp: Any) -> Iterator[Any]:
    for arg in typing.get_args(tp):
        yield arg
        yield from _types_in(arg)


@pytest.mark.parametrize("rt", schemas.record_types(), ids=lambda rt: rt.name)
def test_every_code_list_used_exists(rt: schemas.RecordType) -> None:
    used = set(_code_lists_of(rt.model, set()))
    for name in used:
        codes = schemas.code_list(name)
        assert len(codes) > 0, name
        assert len({c.code for c in codes.codes}) == len(codes), f"{name} repeats a code"
        assert all(c.zh and c.en for c in codes.codes), f"{name} lacks a zh or en name"


def test_code_list_discovery_sees_nested_and_listed_codes() -> None:
    used = set(_code_lists_of(schemas.record_type("delivery").model, set()))
    assert {"delivery_mode", "delivery_place", "sex", "newborn_outcome"} <= used
    used = set(_code_lists_of(schemas.record_type("health_exam").model, set()))
    assert {"exam_symptom", "smoking_status", "diet_habit", "icd10", "hearing"} <= used


# --- valid examples ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_example_validates_and_round_trips(name: str) -> None:
    once = check(name, EXAMPLES[name]())
    assert check(name, once) == once


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_date_field_in_the_future_is_refused(name: str) -> None:
    rt = schemas.record_type(name)
    data = EXAMPLES[name]()
    value = data[rt.date_field]
    future = "2026-01-02" + value[10:]
    got = errors(name, {**data, rt.date_field: future})
    assert rt.date_field in got, got
    assert "is in the future" in got[rt.date_field]


# --- derived values ---------------------------------------------------------------------------


def test_lab_flag_derived_from_numeric_range() -> None:
    items = check("lab_report", EXAMPLES["lab_report"]())["items"]
    assert [i.get("abnormal") for i in items] == ["H", "N", None]


def test_bmi_computed_from_height_and_weight() -> None:
    out = check("health_exam", EXAMPLES["health_exam"]())
    assert out["bmi"] == 26.4  # 72 / 1.65²


def test_expected_delivery_date_derived_from_lmp() -> None:
    out = check("pregnancy_registration", EXAMPLES["pregnancy_registration"]())
    assert out["expected_delivery_date"] == "2025-09-26"
    corrected = {**EXAMPLES["pregnancy_registration"](), "expected_delivery_date": "2025-10-05"}
    assert check("pregnancy_registration", corrected)["expected_delivery_date"] == "2025-10-05"


def test_self_care_total_and_level_computed() -> None:
    out = check("elderly_assessment", EXAMPLES["elderly_assessment"]())
    assert (out["total"], out["level"]) == (6, "1")


# --- cross-field errors -----------------------------------------------------------------------

CASES: list[tuple[str, str, Any, str, str]] = [
    ("lab_report", "items.0.value", True, "items.0.value", "True is not a result"),
    ("lab_report", "items.0.value", float("nan"), "items.0.value", "nan is not a finite number"),
    # (record type, path to change, new value, field blamed, words in the message)
    (
        "inpatient_stay",
        "discharge_time",
        "2025-05-01T08:00",
        "discharge_time",
        "is before admission_time 2025-05-02T09:30:00",
    ),
    (
        "inpatient_stay",
        "operations.0.date",
        "2025-05-20",
        "operations.0.date",
        "2025-05-20 is after discharge_time 2025-05-09T10:00:00",
    ),
    (
        "inpatient_stay",
        "operations.0.date",
        "2025-05-01",
        "operations.0.date",
        "2025-05-01 is before admission_time",
    ),
    ("inpatient_stay", "insurance_paid", "5000", "insurance_paid", "more than total_cost 3856.40"),
    (
        "inpatient_stay",
        "discharge_diagnoses.1.primary",
        True,
        "discharge_diagnoses.1.primary",
        "only one diagnosis can be primary",
    ),
    (
        "inpatient_stay",
        "discharge_diagnoses.0.primary",
        False,
        "discharge_diagnoses",
        "mark one diagnosis as primary",
    ),
    ("inpatient_stay", "discharge_time", ..., "outcome", "needs discharge_time"),
    ("inpatient_order", "stopped_at", "2025-05-01T08:00", "stopped_at", "is before ordered_at"),
    ("inpatient_order", "kind", "temporary", "stopped_at", "only a long-term order is stopped"),
    ("inpatient_order", "route", ..., "route", "is required for a drug order"),
    ("inpatient_order", "dose_unit", ..., "dose_unit", "is required when dose is given"),
    (
        "discharge_summary",
        "discharge_time",
        "2025-05-01T10:00",
        "admission_time",
        "2025-05-02T09:30:00 is after discharge_time 2025-05-01T10:00:00",
    ),
    (
        "lab_report",
        "items.0.abnormal",
        "N",
        "items.0.abnormal",
        "flag N contradicts value 7.2 with reference range 3.9–6.1 (the value is above range)",
    ),
    ("lab_report", "items.1.abnormal", "L", "items.1.abnormal", "flag L contradicts value 4.8"),
    (
        "lab_report",
        "items.0.reference_low",
        9.0,
        "items.0.reference_high",
        "6.1 is below reference_low 9.0",
    ),
    (
        "lab_report",
        "items.0.abnormal",
        "X",
        "items.0.abnormal",
        "is not a known abnormal flag code",
    ),
    ("lab_report", "collected_at", "2025-06-01T12:00", "collected_at", "is after reported_at"),
    (
        "imaging_report",
        "study_uid",
        "1.2.840.0113",
        "study_uid",
        "component 0113 has a leading zero",
    ),
    ("imaging_report", "study_uid", "1.2.abc", "study_uid", "is not a DICOM UID"),
    ("imaging_report", "study_uid", "1." + "2" * 64, "study_uid", "at most 64"),
    ("imaging_report", "modality", "XRAY", "modality", "is not a known imaging modality code"),
    ("imaging_report", "conclusion", ..., "conclusion", "is required"),
    (
        "health_exam",
        "bmi",
        22.0,
        "bmi",
        "22 does not match weight 72 kg and height 165 cm (BMI 26.4)",
    ),
    ("health_exam", "symptoms", ["none", "headache"], "symptoms", "lists none together"),
    ("health_exam", "abnormalities", [], "abnormalities", "list what is abnormal"),
    (
        "health_exam",
        "lifestyle.smoking_status",
        "never",
        "lifestyle.cigarettes_per_day",
        "10 a day, but smoking_status is never",
    ),
    ("health_exam", "vitals.diastolic", 160, "vitals.diastolic", "must be lower than systolic 150"),
    ("pregnancy_registration", "parity", 2, "parity", "cannot reach gravidity 2"),
    (
        "pregnancy_registration",
        "expected_delivery_date",
        "2025-12-01",
        "expected_delivery_date",
        "more than 3 weeks from 2025-09-26",
    ),
    (
        "pregnancy_registration",
        "last_menstrual_period",
        "2025-03-05",
        "last_menstrual_period",
        "2025-03-05 is after registered_on 2025-03-01",
    ),
    (
        "pregnancy_registration",
        "last_menstrual_period",
        "2023-12-01",
        "last_menstrual_period",
        "a pregnancy lasts at most 44 weeks",
    ),
    ("prenatal_visit", "gestational_weeks", 45, "gestational_weeks", "out of range"),
    ("prenatal_visit", "high_risk", False, "high_risk", "high_risk_factors are listed"),
    (
        "prenatal_visit",
        "next_visit_date",
        "2025-05-20",
        "next_visit_date",
        "is not after visit_date",
    ),
    ("prenatal_visit", "pregnancy_id", "42", "pregnancy_id", "is not a record id"),
    ("delivery", "newborns.0.outcome", "stillbirth", "newborns.0.apgar_1min", "must be 0"),
    ("delivery", "newborns.0.weight_g", 200, "newborns.0.weight_g", "out of range"),
    ("delivery", "mode", "magic", "mode", "is not a known delivery mode code"),
    (
        "postpartum_visit",
        "breast",
        {"status": "abnormal"},
        "breast.note",
        "describe what is abnormal",
    ),
    (
        "postpartum_visit",
        "breast",
        {"status": "abnormal", "note": "乳头皲裂"},
        "classification",
        "is normal but breast is abnormal",
    ),
    ("newborn_visit", "referral", True, "referral_reason", "is required when referral is true"),
    ("child_check", "age_months", 84, "age_months", "out of range"),
    ("elderly_assessment", "eating", 4, "eating", "4 is not a score of this item (one of 0, 3, 5)"),
    ("elderly_assessment", "total", 7, "total", "is not the sum of the item scores (6)"),
    ("elderly_assessment", "level", "0", "level", "does not match total 6, which is level 1"),
    ("hypertension_followup", "systolic", ..., "systolic", "is required"),
    ("hypertension_followup", "diastolic", 150, "diastolic", "must be lower than systolic 142"),
    ("hypertension_followup", "control", "adverse", "adverse_reaction", "control is adverse"),
    (
        "hypertension_followup",
        "adherence",
        "sometimes",
        "adherence",
        "is not a known medication adherence code",
    ),
    ("hypertension_followup", "symptoms", ["none", "edema"], "symptoms", "lists none together"),
    ("diabetes_followup", "fasting_glucose", 40, "fasting_glucose", "out of range"),
    ("diabetes_followup", "hba1c", 2.5, "hba1c", "out of range"),
    ("mental_followup", "risk_level", 3, "classification", "must be unstable at risk level 3"),
    (
        "mental_followup",
        "classification",
        "stable",
        "classification",
        "cannot be stable at risk level 1",
    ),
    (
        "mental_followup",
        "dangerous_behaviours",
        [{"kind": "self_harm", "count": 1}, {"kind": "self_harm", "count": 2}],
        "dangerous_behaviours.1.kind",
        "self_harm is listed twice",
    ),
    ("mental_followup", "risk_level", 6, "risk_level", "out of range"),
    ("tb_followup", "treatment_month", 25, "treatment_month", "out of range"),
    ("tb_followup", "outcome", "cured", "next_followup", "outcome cured ends the treatment"),
    (
        "tb_followup",
        "supervisor",
        "neighbour",
        "supervisor",
        "is not a known treatment supervisor code",
    ),
    ("allergy", "substance_category", "food", "drug", "substance_category is food"),
    ("allergy", "onset_on", "2025-02-01", "onset_on", "is after recorded_on 2025-01-10"),
    ("immunization", "dose_number", 6, "dose_number", "out of range"),
    ("immunization", "next_due_on", "2025-06-05", "next_due_on", "is not after given_at"),
    ("immunization", "vaccine", "XYZ", "vaccine", "is not a known vaccine code"),
    ("referral", "direction", "back", "referral_id", "is required for a referral back"),
    ("referral", "results", "已好转", "results", "belongs on a referral back"),
    ("referral", "to_clinic", "THC430124001", "to_clinic", "is the referring clinic itself"),
    (
        "referral",
        "to_clinic",
        "县医院",
        "to_clinic",
        "'县医院' is not a code (up to 20 letters, digits or . _ / -)",
    ),
    ("immunization", "lot_number", "批号 12", "lot_number", "is not a lot number"),
    ("imaging_report", "examined_at", "2025-06-02T08:00", "examined_at", "is after reported_at"),
    (
        "mental_followup",
        "last_discharge_date",
        "2025-06-02",
        "last_discharge_date",
        "is after followup_date 2025-06-01",
    ),
    (
        "birth",
        "birth_certificate_number",
        "o43-01",
        "birth_certificate_number",
        "is not a birth certificate number",
    ),
    ("referral_response", "reason", ..., "reason", "is required when a referral is declined"),
    ("referral_response", "decision", "maybe", "decision", "accepted"),
    ("referral_response", "referral_id", "R-1", "referral_id", "is not a record id"),
    ("referral_response", "responded_at", "2099-01-01T08:00", "responded_at", "is in the future"),
    ("consultation", "answer", ..., "answer", "is required when answered_at is given"),
    ("consultation", "answered_at", "2025-06-01T15:30", "answered_at", "is before requested_at"),
    ("consultation", "attachment_ids", ["not-an-id"], "attachment_ids.0", "is not a record id"),
    ("birth", "mother_id_number", MAN_ID, "mother_id_number", "is a man's identity number"),
    (
        "birth",
        "birth_time",
        "2003-06-05T03:40",
        "mother_id_number",
        "born 1995-03-07, which makes her 8 at this birth",
    ),
    ("birth", "weight_g", 7500, "weight_g", "out of range"),
    ("birth", "gestational_weeks", 19, "gestational_weeks", "out of range"),
    ("death", "certified_on", "2025-02-27", "certified_on", "is before death_time"),
    ("death", "place", "street", "place", "is not a known place of death code"),
    ("death", "underlying_cause", "Q99.999", "underlying_cause", "is not an ICD-10 code"),
]


@pytest.mark.parametrize(
    ("name", "path", "value", "field", "words"),
    CASES,
    ids=[f"{c[0]}:{c[3]}:{i}" for i, c in enumerate(CASES)],
)
def test_cross_field_error_names_the_field(name: str, path: str, value: Any, field: str, words: str) -> None:
    got = errors(name, with_(EXAMPLES[name](), path, value))
    assert field in got, got
    assert words in got[field], got[field]


def test_referral_back_names_the_referral_out() -> None:
    back = {
        **EXAMPLES["referral"](),
        "direction": "back",
        "from_clinic": "CH430124",
        "to_clinic": "THC430124001",
        "referral_id": REF[0],
        "results": "血压已控制",
        "discharge_summary_id": REF[1],
    }
    assert check("referral", back)["referral_id"] == REF[0]


# --- properties --------------------------------------------------------------------------------

finite = st.floats(min_value=-1000, max_value=1000, allow_nan=False).map(lambda x: round(x, 2))


@given(value=finite, low=finite, span=st.floats(min_value=0, max_value=500).map(lambda x: round(x, 2)))
@settings(max_examples=200)
def test_lab_flag_is_derived_and_then_agrees(value: float, low: float, span: float) -> None:
    high = round(low + span, 2)
    item = {"name": "x", "value": value, "reference_low": low, "reference_high": high}
    data = {**EXAMPLES["lab_report"](), "items": [item]}
    out = check("lab_report", data)
    flag = out["items"][0]["abnormal"]
    assert flag == ("H" if value > high else "L" if value < low else "N")
    assert check("lab_report", out) == out
    wrong = {"N": "H", "H": "L", "L": "N"}[flag]
    got = errors("lab_report", {**data, "items": [{**item, "abnormal": wrong}]})
    assert "items.0.abnormal" in got


@given(weight=st.floats(min_value=3, max_value=200), height=st.floats(min_value=60, max_value=220))
@settings(max_examples=100)
def test_bmi_round_trips(weight: float, height: float) -> None:
    data = {"exam_date": "2025-04-15", "vitals": {"weight_kg": weight, "height_cm": height}}
    bmi = weight / (height / 100) ** 2
    if not 8 <= round(bmi, 1) <= 80:
        got = errors("health_exam", data)
        assert "not plausible" in got["vitals.weight_kg"]
        return
    out = check("health_exam", data)
    assert abs(out["bmi"] - bmi) <= 0.05
    assert check("health_exam", out) == out


uid_component = st.one_of(st.just("0"), st.integers(min_value=1, max_value=10**12).map(str))


@given(st.lists(uid_component, min_size=2, max_size=12))
def test_dicom_uid_accepted_exactly_when_well_formed(parts: list[str]) -> None:
    uid = ".".join(parts)
    data = {**EXAMPLES["imaging_report"](), "study_uid": uid}
    if len(uid) <= 64:
        assert check("imaging_report", data)["study_uid"] == uid
    else:
        assert "study_uid" in errors("imaging_report", data)


@given(
    eating=st.sampled_from([0, 3, 5]),
    grooming=st.sampled_from([0, 1, 3, 7]),
    dressing=st.sampled_from([0, 3, 5]),
    toileting=st.sampled_from([0, 1, 5, 10]),
    activity=st.sampled_from([0, 1, 5, 10]),
)
def test_self_care_level_follows_total(**scores: int) -> None:
    out = check("elderly_assessment", {"assessed_on": "2025-05-01", **scores})
    total = sum(scores.values())
    assert out["total"] == total
    assert out["level"] == ("0" if total <= 3 else "1" if total <= 8 else "2" if total <= 18 else "3")
    assert check("elderly_assessment", out) == out


@given(
    lmp=st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2025, 6, 1)),
    weeks=st.integers(min_value=0, max_value=44),
)
def test_edd_is_lmp_plus_280_days(lmp: dt.date, weeks: int) -> None:
    registered = min(lmp + dt.timedelta(weeks=weeks), TODAY)
    out = check(
        "pregnancy_registration",
        {
            "registered_on": registered.isoformat(),
            "last_menstrual_period": lmp.isoformat(),
            "gravidity": 1,
            "parity": 0,
        },
    )
    assert out["expected_delivery_date"] == (lmp + dt.timedelta(days=280)).isoformat()
    assert check("pregnancy_registration", out) == out
