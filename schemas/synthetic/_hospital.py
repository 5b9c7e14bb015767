"""Referrals to and back from the county hospital, and township hospital stays."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ._core import YEAR, Generator, Timeline, minutes_of
from ._prescriptions import rx_item
from ._tables import INPATIENT_RX, REFERRALS, RX, STAYS

__all__ = ["inpatient", "referral_back", "referral_out", "referrals_and_stays"]

_COUNTY_HOSPITAL = "H511321001"  # 南部县人民医院

# Why a stay began, by its admitting diagnosis, as the discharge summary puts it.
_STAY_REASONS = {
    "J18.9": "发热、咳嗽、咳痰3天",
    "J44.1": "反复咳嗽咳痰10余年，气喘加重3天",
    "I69.3": "脑梗死后左侧肢体活动不利2月",
    "I25.1": "反复活动后胸闷1月，加重2天",
    "K29.1": "上腹痛伴呕吐1天",
    "M51.2": "腰痛伴右下肢放射痛2周",
    "J18.0": "发热、咳嗽3天",
    "A09": "腹泻伴呕吐1天",
    "I50.9": "气促、双下肢水肿加重1周",
    "N18.9": "乏力、纳差、水肿2周",
}


def referral_out(
    gen: Generator, tl: Timeline, day: int, *, when: str, icd: str, reason: str, urgency: str
) -> str:
    """A referral to the county hospital half an hour after the visit at ``when``; returns its key."""
    p = tl.p
    history = "、".join(gen.town.drugs[d]["name"].split(" ")[0] for d in p.regimen) if p.regimen else ""
    data: dict[str, Any] = {
        "referred_at": gen.at(day, minutes_of(when) + 30),
        "direction": "out",
        "from_clinic": gen.town.code,
        "to_clinic": _COUNTY_HOSPITAL,
        "reason": reason,
        "preliminary_diagnoses": [icd],
        "urgency": urgency,
        "referring_doctor": gen.pick(gen.doctors),
    }
    if p.htn is not None:
        data["history_summary"] = f"高血压病史，服用{history}。" if history else "高血压病史，未规律服药。"
    return tl.add(day, "referral", data)


def referral_back(
    gen: Generator, tl: Timeline, day: int, out: str, *, icd: str, results: str, treatment: str
) -> None:
    """The county hospital's answer to referral ``out``: results, treatment, back to the clinic."""
    data = {
        "referred_at": gen.at(day, gen.clinic_time()),
        "direction": "back",
        "from_clinic": _COUNTY_HOSPITAL,
        "to_clinic": gen.town.code,
        "reason": "经上级医院诊治，病情稳定，转回基层继续治疗和随访",
        "preliminary_diagnoses": [icd],
        "results": results,
        "treatment_given": treatment,
        "urgency": "routine",
        "referring_doctor": gen.pick(gen.county_doctors),
    }
    tl.add(day, "referral", data, {"referral_id": out})


def referrals_and_stays(gen: Generator, tl: Timeline) -> None:
    """Referrals out and township hospital stays, at yearly rates by age."""
    rng = gen.rng
    p = tl.p
    span = (tl.end - tl.begin + 1) / YEAR
    age = p.age((tl.begin + tl.end) // 2)
    ref_rate = 0.03 if age >= 60 else 0.012 if age >= 30 else 0.004
    for _ in range(gen.poisson(ref_rate * span)):
        day = rng.randrange(tl.begin, tl.end + 1)
        options = [
            r
            for r in REFERRALS
            if p.age(day) >= r[3]
            and (r[0] != "N63" or p.sex == "2")
            and (r[0] != "I10" or p.htn is not None)
            and (r[0] != "E11.9" or p.dm is not None)
        ]
        if not options:
            continue
        icd, reason, urgency, _, result, treatment = gen.pick(options)
        when = gen.at(day, gen.clinic_time())
        out = referral_out(gen, tl, day, when=when, icd=icd, reason=reason, urgency=urgency)
        back = day + rng.randrange(6, 21)
        if back <= tl.end and rng.random() < 0.75:
            referral_back(gen, tl, back, out, icd=icd, results=result, treatment=treatment)
    stay_rate = 0.09 if age >= 60 else 0.025 if age >= 16 else 0.03 if age < 7 else 0.01
    for _ in range(gen.poisson(stay_rate * span)):
        admitted = rng.randrange(tl.begin, tl.end + 1)
        a = p.age(admitted)
        stays = [s for s in STAYS if s[2] <= a <= s[3]]
        if not stays:
            continue
        stay = gen.weighted(tuple((s[4], s) for s in stays))
        los = rng.randrange(4, 11)
        if admitted + los <= tl.end:
            inpatient(gen, tl, admitted, admitted + los, stay)


def inpatient(
    gen: Generator,
    tl: Timeline,
    admitted: int,
    discharged: int | None,
    stay: tuple[str, str, int, int, float, str, tuple[str, ...]],
    *,
    died: str | None = None,
) -> None:
    """A township hospital stay: home page, orders and (if discharged alive) the discharge summary."""
    rng = gen.rng
    p = tl.p
    icd, dept, _, _, _, course, drugs = stay
    doctor = gen.pick(gen.doctors)
    t_in = gen.at(admitted, rng.randrange(8 * 60, 20 * 60))
    t_out = died or (gen.at(discharged, rng.randrange(9 * 60, 11 * 60)) if discharged else None)
    extra = [{"icd10": c} for c, y in (("I10", p.htn), ("E11.9", p.dm)) if y is not None and c != icd]
    outcome = "died" if died else "improved" if rng.random() < 0.8 else "cured"
    diagnoses = [{"icd10": icd, "primary": True, "outcome": outcome}, *extra]
    total = rng.uniform(1200, 5200) * (1 if not died else 1.5)
    data: dict[str, Any] = {
        "inpatient_number": f"ZY{dt.date.fromordinal(admitted).year}{gen.next_serial():06d}",
        "admission_time": t_in,
        "admission_route": gen.weighted(((0.8, "outpatient"), (0.15, "emergency"), (0.05, "transfer"))),
        "department": dept,
        "ward": f"{dept}病区",
        "bed": f"{rng.randrange(1, 40):02d}床",
        "admitting_diagnosis": icd,
        "attending_doctor": doctor,
        "total_cost": f"{total:.2f}",
        "insurance_paid": f"{total * rng.uniform(0.6, 0.85):.2f}",
    }
    if t_out is not None:
        data["discharge_time"] = t_out
        data["discharge_diagnoses"] = diagnoses
        data["outcome"] = "died" if died else "routine"
    stay_key = tl.add(admitted, "inpatient_stay", data)
    ordered = gen.at(admitted, minutes_of(t_in) + 30)
    nursing = "儿科护理常规 二级护理" if dept == "儿科" else f"{dept}护理常规 二级护理"
    tl.add(
        admitted,
        "inpatient_order",
        {"ordered_at": ordered, "kind": "long_term", "content": nursing, "doctor": doctor},
        {"stay_id": stay_key},
    )
    tl.add(
        admitted,
        "inpatient_order",
        {
            "ordered_at": ordered,
            "kind": "temporary",
            "content": "血常规、C反应蛋白、肝肾功能、心电图",
            "doctor": doctor,
        },
        {"stay_id": stay_key},
    )
    for drug in drugs:
        dose, route, freq = INPATIENT_RX[drug]
        info = gen.town.drugs[drug]
        order: dict[str, Any] = {
            "ordered_at": ordered,
            "kind": "long_term",
            "content": f"{info['name']} {dose}{info['unit']} {route} {freq}",
            "drug": drug,
            "dose": dose,
            "dose_unit": info["unit"],
            "route": route,
            "frequency": freq,
            "doctor": doctor,
        }
        if t_out is not None:
            order["stopped_at"] = t_out
            order["stopped_by"] = doctor
        tl.add(admitted, "inpatient_order", order, {"stay_id": stay_key})
    if discharged is None or died:
        return
    oral = [d for d in drugs if INPATIENT_RX[d][1] == "po" and d in RX]
    medication = [rx_item(gen, d, p, discharged, days=7) for d in oral]
    medication += [rx_item(gen, d, p, discharged) for d in p.regimen]
    summary: dict[str, Any] = {
        "admission_time": t_in,
        "discharge_time": t_out,
        "admission_condition": f"因{_STAY_REASONS.get(icd, '病情需要')}入院。",
        "course_in_hospital": course,
        "discharge_condition": "病情好转，生命体征平稳，饮食睡眠可。",
        "discharge_diagnoses": diagnoses,
        "follow_up_advice": "按时服药，注意休息，1周后门诊复诊，不适随诊。",
        "doctor": doctor,
    }
    if medication:
        summary["discharge_medication"] = medication
    tl.add(discharged, "discharge_summary", summary, {"stay_id": stay_key})
