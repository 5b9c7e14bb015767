"""Key populations: follow-ups of hypertension, diabetes, severe mental disorder and tuberculosis."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from ._body import blood_pressure, fasting_glucose, weight_at
from ._conditions import Dx
from ._core import Generator, Person, Timeline
from ._hospital import referral_back, referral_out
from ._tables import CHRONIC
from ._visits import encounter

__all__ = ["chronic_followups", "mental_followups", "tuberculosis"]

# The clinic visit where tuberculosis is first suspected.
# fmt: off
_TB_DX = Dx(
    "R05", (15, 99), 0, "flat", 0.6, "", "", "右上肺呼吸音稍低，未闻及明显干湿啰音。",
    (("compound_licorice_tab",),), imaging=("tb", 1.0), lab=("cbc", 0.8), infection="viral",
    advice="佩戴口罩，开窗通风，已转县结核病定点医院进一步检查。",
)
# fmt: on


def _since_day(gen: Generator, year: int) -> int:
    return max(gen.start, dt.date(year, 1, 1).toordinal() + gen.rng.randrange(365))


def chronic_followups(gen: Generator, tl: Timeline) -> None:
    """Quarterly hypertension and diabetes follow-ups (on the same day when a patient has both)."""
    rng = gen.rng
    p = tl.p
    first_dx = min(y for y in (p.htn, p.dm) if y is not None)
    day = max(tl.begin, _since_day(gen, first_dx)) + rng.randrange(0, 60)
    village_doctor = gen.village_doctors[p.hh.village.code]
    while day <= tl.end:
        year = dt.date.fromordinal(day).year
        method = gen.weighted(((0.4, "clinic"), (0.35, "home"), (0.25, "phone")))
        if p.away:
            method = "phone"
        doctor = village_doctor if method != "clinic" or rng.random() < 0.5 else gen.pick(gen.public_health)
        nxt = day + rng.randrange(84, 98)
        sbp, dbp = blood_pressure(gen, p, day)
        common = _followup_common(gen, p, day, method=method, doctor=doctor, sbp=sbp, dbp=dbp, nxt=nxt)
        if p.htn is not None and p.htn <= year:
            tl.add(day, "hypertension_followup", _htn_form(gen, p, common))
        if p.dm is not None and p.dm <= year:
            tl.add(day, "diabetes_followup", _dm_form(gen, p, day, common, method))
        day = nxt + rng.randrange(-5, 6)


def _followup_common(
    gen: Generator, p: Person, day: int, *, method: str, doctor: str, sbp: int, dbp: int, nxt: int
) -> dict[str, Any]:
    rng = gen.rng
    data: dict[str, Any] = {
        "followup_date": gen.iso(day),
        "method": method,
        "systolic": sbp,
        "diastolic": dbp,
        "weight_kg": weight_at(gen, p, day),
        "heart_rate": rng.randrange(62, 90),
        "exercise_times_per_week": rng.choice((0, 2, 3, 5, 7, 7)),
        "exercise_minutes": rng.choice((20, 30, 30, 40, 60)),
        "salt_intake": gen.weighted(((0.35, "light"), (0.45, "moderate"), (0.2, "heavy"))),
        "psychological_adjustment": gen.weighted(((0.8, "good"), (0.18, "fair"), (0.02, "poor"))),
        "compliance": gen.weighted(((0.7, "good"), (0.25, "fair"), (0.05, "poor"))),
        "next_followup": gen.iso(nxt),
        "doctor": doctor,
    }
    if p.smoker == "current":
        data["cigarettes_per_day"] = p.cigarettes
    if p.alcohol:
        data["alcohol_liang_per_day"] = p.alcohol
    if sbp >= 180 or dbp >= 110:
        data["referral"] = True
        data["referral_reason"] = f"血压{sbp}/{dbp}mmHg，规律服药仍控制不佳，转上级医院调整治疗方案"
    return data


def _meds(drugs: Sequence[str]) -> list[dict[str, Any]]:
    return [{"drug": d, "dose": CHRONIC[d][0], "frequency": CHRONIC[d][1]} for d in drugs]


def _htn_form(gen: Generator, p: Person, common: dict[str, Any]) -> dict[str, Any]:
    rng = gen.rng
    data = dict(common)
    sbp, dbp = data["systolic"], data["diastolic"]
    controlled = sbp < 140 and dbp < 90
    if sbp >= 180 or dbp >= 110:
        data["symptoms"] = ["headache_dizziness", *(["vision_tinnitus"] if rng.random() < 0.4 else [])]
    elif controlled or rng.random() < 0.35:
        data["symptoms"] = ["none"]
    else:
        data["symptoms"] = [
            gen.pick(("headache_dizziness", "headache_dizziness", "vision_tinnitus", "palpitation"))
        ]
    if not p.regimen:
        data["adherence"], data["control"] = "none", "controlled" if controlled else "uncontrolled"
        return data
    data["adherence"] = "regular" if rng.random() < 0.8 else "intermittent"
    data["medications"] = _meds(p.regimen)
    data["control"] = "controlled" if controlled else "uncontrolled"
    if rng.random() < 0.03:
        note = (
            "服药后双踝轻度水肿"
            if any("dipine" in d for d in p.regimen)
            else "服药后干咳"
            if any(d.startswith(("captopril", "enalapril")) for d in p.regimen)
            else "服药后偶有头晕、乏力"
        )
        data.update(adverse_reaction=True, adverse_reaction_note=note, control="adverse")
    return data


def _dm_form(gen: Generator, p: Person, day: int, common: dict[str, Any], method: str) -> dict[str, Any]:
    rng = gen.rng
    data = dict(common)
    fpg = fasting_glucose(gen, p, day)
    data["fasting_glucose"] = fpg
    if method == "clinic" and rng.random() < 0.3:
        data["hba1c"] = round((fpg + 2.59) / 1.59 + rng.uniform(-0.3, 0.3), 1)
    data["staple_food_g_per_day"] = rng.choice((200, 250, 250, 300, 350, 400))
    data["symptoms"] = (
        ["none"]
        if fpg < 7 or rng.random() < 0.6
        else rng.sample(["polydipsia", "polyuria", "blurred_vision", "numbness"], 2)
    )
    drugs = p.dm_regimen
    data["medications"] = _meds(drugs)
    sulfonylurea = any(d.startswith(("glic", "glim", "glip")) for d in drugs) or p.insulin is not None
    data["hypoglycemia"] = "occasional" if sulfonylurea and rng.random() < 0.15 else "none"
    if p.insulin is not None:
        _, kind, dose = p.insulin
        data["insulin"] = {
            "kind": kind,
            "dose": dose.format(a=rng.randrange(8, 20), b=rng.randrange(6, 16)),
        }
    data["adherence"] = "regular" if rng.random() < 0.78 else "intermittent"
    data["control"] = "controlled" if fpg < 7.0 else "uncontrolled"
    if rng.random() < 0.02:
        data.update(
            adverse_reaction=True, adverse_reaction_note="服用二甲双胍后腹胀、腹泻", control="adverse"
        )
    return data


def mental_followups(gen: Generator, tl: Timeline) -> None:
    """Severe mental disorder follow-ups: quarterly, every two weeks while unstable."""
    rng = gen.rng
    p = tl.p
    assert p.smd is not None
    day = tl.begin + rng.randrange(0, 60)
    discharged = None
    if rng.random() < 0.5:
        discharged = gen.iso(max(p.born + 6600, dt.date(p.smd[2], 6, 1).toordinal() + rng.randrange(200)))
    while day <= tl.end:
        stable = rng.random() < p.control + 0.1
        risk = 0 if stable else gen.weighted(((0.55, 1), (0.3, 2), (0.1, 3), (0.05, 4)))
        classification = (
            "stable"
            if risk == 0 and rng.random() < 0.85
            else "basically_stable"
            if risk <= 2 and rng.random() < 0.7
            else "unstable"
        )
        if risk == 0 and classification == "unstable":
            classification = "basically_stable"
        nxt = day + (rng.randrange(12, 16) if classification == "unstable" else rng.randrange(84, 98))
        data: dict[str, Any] = {
            "followup_date": gen.iso(day),
            "method": gen.weighted(((0.5, "home"), (0.3, "clinic"), (0.2, "phone"))),
            "risk_level": risk,
            "symptoms": []
            if classification == "stable"
            else rng.sample(
                ["hallucination", "suspicion", "self_talk", "withdrawal", "moody", "bizarre"],
                rng.randrange(1, 3),
            ),
            "insight": "full" if classification == "stable" else gen.pick(("partial", "partial", "none")),
            "sleep": "good" if stable else "fair",
            "diet": "good" if stable else "fair",
            "social_function": {
                "personal_care": "good" if stable else "fair",
                "housework": "fair",
                "work": "fair" if stable else "poor",
                "learning": "fair",
                "social_interaction": "fair" if stable else "poor",
            },
            "lock_status": "never",
            "hospitalization": "past" if discharged else "never",
            "adherence": "regular" if stable else gen.pick(("intermittent", "regular", "none")),
            "treatment_effect": "improved" if stable else gen.pick(("unchanged", "worse", "improved")),
            "rehabilitation": ["daily_living"] if stable else [],
            "classification": classification,
            "medications": _meds(p.psych_regimen),
            "next_followup": gen.iso(nxt),
            "doctor": gen.pick(gen.public_health),
        }
        if discharged:
            data["last_discharge_date"] = min(discharged, gen.iso(day))
        if risk >= 2:
            data["dangerous_behaviours"] = [{"kind": "mild_trouble" if risk == 2 else "trouble", "count": 1}]
        if risk >= 3:
            data["referral"] = True
            data["referral_reason"] = "病情不稳定，危险性评估3级以上，建议转精神专科医院治疗"
        tl.add(day, "mental_followup", data)
        day = nxt + rng.randrange(-3, 4)


def tuberculosis(gen: Generator, tl: Timeline) -> None:
    """Suspected at the clinic, confirmed at the county hospital, six months of supervised treatment."""
    rng = gen.rng
    p = tl.p
    assert p.tb_start is not None
    start = p.tb_start
    smear_positive = rng.random() < 0.6
    seen = start - rng.randrange(7, 15)
    if tl.begin <= seen <= tl.end:
        _, when = encounter(
            gen,
            tl,
            seen,
            _TB_DX,
            complaint="咳嗽、咳痰3周，伴午后低热、盗汗",
            illness="3周前无明显诱因出现咳嗽、咳白黏痰，伴午后低热、夜间盗汗、乏力、消瘦，抗感染治疗效果不佳。",
            diagnoses=[{"icd10": "R05", "primary": True, "note": "疑似肺结核，转县结核病定点医院"}],
        )
        out = referral_out(
            gen,
            tl,
            seen,
            when=when,
            icd="A16.2",
            reason="咳嗽咳痰3周伴低热、盗汗，胸片示右上肺斑片影，疑似肺结核",
            urgency="routine",
        )
        if start - 1 <= tl.end:
            result = (
                "痰涂片抗酸杆菌阳性，确诊为继发性肺结核（初治，涂阳）。"
                if smear_positive
                else "痰涂片阴性，结合胸部CT确诊为继发性肺结核（初治，涂阴）。"
            )
            referral_back(
                gen,
                tl,
                start - 1,
                out,
                icd="A15.0" if smear_positive else "A16.0",
                results=result,
                treatment="2HRZE/4HR方案，每日顿服，由村医督导服药，每月复查。",
            )
    supervisor = gen.weighted(((0.6, "medical_staff"), (0.35, "family"), (0.05, "volunteer")))
    for month in range(1, 7):
        day = start + (month - 1) * 30 + rng.randrange(0, 5)
        if day > tl.end:
            break
        if day < tl.begin:
            continue
        intensive = month <= 2
        data: dict[str, Any] = {
            "followup_date": gen.iso(day),
            "method": "home" if month > 1 else "clinic",
            "treatment_month": month,
            "stage": "intensive" if intensive else "continuation",
            "supervisor": supervisor,
            "symptoms": ["cough", "fever_sweats"]
            if month == 1
            else ["cough"]
            if month == 2 and rng.random() < 0.5
            else ["none"],
            "regimen": "2HRZE/4HR",
            "drugs": ["HRZE"] if intensive else ["HR"],
            "dosing": "daily",
            "missed_doses": rng.choice((0, 0, 0, 1, 2)),
            "doctor": gen.village_doctors[p.hh.village.code],
        }
        if month in (2, 5, 6):
            data["sputum_result"] = (
                "positive" if month == 2 and smear_positive and rng.random() < 0.1 else "negative"
            )
        if rng.random() < 0.08:
            data.update(
                adverse_reaction=True,
                adverse_reaction_note=gen.pick(("恶心、纳差", "皮肤瘙痒", "关节痛")),
            )
        if month == 6:
            data["outcome"] = "cured" if smear_positive else "completed"
        else:
            data["next_followup"] = gen.iso(day + 30)
        tl.add(day, "tb_followup", data)
