"""The yearly health examination (with its tests), the elderly self-care assessment, and allergy records."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ._body import blood_pressure, weight_at
from ._core import Generator, Timeline
from ._lab_imaging import imaging_report, lab_panel

__all__ = ["allergy", "annual_exams"]

# Self-care items of the elderly assessment and the score of each grade (independent first).
_SELF_CARE: dict[str, tuple[int, ...]] = {
    "eating": (0, 3, 5),
    "grooming": (0, 1, 3, 7),
    "dressing": (0, 3, 5),
    "toileting": (0, 1, 5, 10),
    "activity": (0, 1, 5, 10),
}


def annual_exams(gen: Generator, tl: Timeline) -> None:
    """The yearly health examination for the over-65s and chronic patients, with its tests."""
    rng = gen.rng
    p = tl.p
    first = dt.date.fromordinal(tl.begin).year
    last = dt.date.fromordinal(tl.end).year
    for year in range(first, last + 1):
        day = dt.date(year, 1, 1).toordinal() + int(rng.triangular(60, 240, 120))
        if not tl.begin <= day <= tl.end:
            continue
        age = p.age(day)
        elderly = age >= 65
        chronic = (p.htn is not None or p.dm is not None) and age >= 35
        if not ((elderly and rng.random() < 0.72) or (chronic and rng.random() < 0.8)):
            continue
        _health_exam(gen, tl, day, elderly)


def _health_exam(gen: Generator, tl: Timeline, day: int, elderly: bool) -> None:
    rng = gen.rng
    p = tl.p
    age = p.age(day)
    sbp, dbp = blood_pressure(gen, p, day)
    weight = weight_at(gen, p, day)
    height = round(p.height, 1)
    bmi = round(weight / (height / 100) ** 2, 1)
    tests = elderly and rng.random() < 0.9
    doctor = gen.pick(gen.public_health)
    abnormalities: list[str] = []
    if sbp >= 140 or dbp >= 90:
        abnormalities.append(f"血压偏高（{sbp}/{dbp}mmHg）")
    if bmi >= 28:
        abnormalities.append(f"肥胖（BMI {bmi}）")
    elif bmi >= 24:
        abnormalities.append(f"超重（BMI {bmi}）")
    aux: dict[str, Any] = {}
    problems = [c for c, y in (("I10", p.htn), ("E11.9", p.dm)) if y is not None]
    problems += ["J44.9"] * p.copd + ["I25.1"] * p.chd
    if tests:
        minutes = rng.randrange(7 * 60 + 30, 9 * 60 + 30)  # fasting blood in the morning
        cbc = lab_panel(gen, "cbc", p, day)
        chem = lab_panel(gen, "chem", p, day)
        fpg = next(i["value"] for i in chem["items"] if i["code"] == "1558-6")
        hgb = next(i for i in cbc["items"] if i["code"] == "718-7")
        aux["fasting_glucose"] = fpg
        aux["blood_routine"] = "血红蛋白偏低" if hgb["abnormal"] == "L" else "未见异常"
        aux["urine_routine"] = "尿糖+" if p.dm is not None and fpg >= 10 else "未见异常"
        if fpg >= 7.0:
            abnormalities.append(f"空腹血糖升高（{fpg}mmol/L）")
        elif fpg >= 6.1:
            abnormalities.append(f"空腹血糖受损（{fpg}mmol/L）")
        if hgb["abnormal"] == "L":
            abnormalities.append("轻度贫血")
        for report in (cbc, chem):
            report.pop("_price")
            report["collected_at"] = gen.at(day, minutes)
            report["reported_at"] = gen.at(day, minutes + rng.randrange(120, 300))
            tl.add(day, "lab_report", report)
        for kind in ("ecg", "abdomen"):
            image = imaging_report(gen, kind, p, day)
            for k in ("_item", "_price", "_order"):
                image.pop(k)
            image["examined_at"] = gen.at(day, minutes + rng.randrange(20, 90))
            image["reported_at"] = gen.at(day, minutes + rng.randrange(100, 160))
            tl.add(day, "imaging_report", image)
            aux["ecg" if kind == "ecg" else "b_ultrasound"] = image["conclusion"]
            if image["positive"]:
                abnormalities.append(
                    ("心电图：" if kind == "ecg" else "腹部B超：") + image["conclusion"].rstrip("。")
                )
    symptoms = ["none"]
    if rng.random() < (0.5 if elderly else 0.3):
        pool = ["dizziness", "joint_pain", "dim_vision", "tinnitus", "fatigue", "constipation"]
        pool += ["chronic_cough", "sputum"] * p.copd + ["polydipsia", "polyuria"] * (p.dm is not None)
        symptoms = rng.sample(pool, rng.randrange(1, 3))
    lifestyle: dict[str, Any] = {
        "smoking_status": p.smoker,
        "drinking_status": {
            "never": "never",
            "occasional": "occasional",
            "frequent": "frequent",
            "daily": "daily",
        }[p.drinker],
        "exercise_frequency": gen.weighted(
            ((0.3, "daily"), (0.2, "weekly"), (0.3, "occasional"), (0.2, "never"))
        ),
        "diet": ["balanced"]
        if rng.random() < 0.6
        else rng.sample(["salty", "oily", "meat", "vegetarian"], 2),
    }
    if p.smoker == "current":
        lifestyle["cigarettes_per_day"] = p.cigarettes
    if p.alcohol:
        lifestyle["alcohol_liang_per_day"] = p.alcohol
    if lifestyle["exercise_frequency"] != "never":
        lifestyle["exercise_minutes"] = rng.choice((20, 30, 40, 60))
    acuity = max(0.1, min(1.2, 1.1 - max(0.0, age - 50) * 0.015 + rng.gauss(0, 0.12)))
    guidance = ["diet", "exercise"]
    if problems:
        guidance.insert(0, "chronic_management")
    if p.smoker == "current":
        guidance.append("quit_smoking")
    if p.alcohol:
        guidance.append("drink_less")
    if bmi >= 24:
        guidance.append("lose_weight")
    if abnormalities:
        guidance.append("recheck")
    if elderly:
        guidance.append("vaccination")
    data: dict[str, Any] = {
        "exam_date": gen.iso(day),
        "symptoms": symptoms,
        "vitals": {
            "temperature_c": round(rng.uniform(36.2, 36.9), 1),
            "pulse": rng.randrange(62, 88),
            "respiration": rng.randrange(16, 21),
            "systolic": sbp,
            "diastolic": dbp,
            "height_cm": height,
            "weight_kg": weight,
        },
        "bmi": bmi,
        "waist_cm": round((80 if p.sex == "1" else 76) + (bmi - 22) * 2.4 + rng.gauss(0, 3), 1),
        "lifestyle": lifestyle,
        "organ_function": {
            "vision_left": round(acuity, 1),
            "vision_right": round(max(0.1, acuity + rng.gauss(0, 0.1)), 1),
            "hearing": "not_heard" if age > 80 and rng.random() < 0.3 else "heard",
            "motor_function": "unable" if age > 85 and rng.random() < 0.2 else "able",
        },
        "physical_findings": (
            f"皮肤、巩膜无黄染，浅表淋巴结未触及肿大，双肺呼吸音{'低' if p.copd else '清'}，"
            f"心率{rng.randrange(62, 88)}次/分，律齐，腹软无压痛，双下肢无水肿。"
        ),
        "health_problems": problems,
        "assessment": "abnormal" if abnormalities else "normal",
        "guidance": guidance,
        "doctor": doctor,
    }
    if aux:
        data["auxiliary"] = aux
    if abnormalities:
        data["abnormalities"] = abnormalities
    tl.add(day, "health_exam", data)
    if elderly:
        _elderly_assessment(gen, tl, day, doctor)


def _elderly_assessment(gen: Generator, tl: Timeline, day: int, assessor: str) -> None:
    rng = gen.rng
    age = tl.p.age(day)
    independent = 0.88 if age < 75 else 0.72 if age < 85 else 0.5
    scores: dict[str, int] = {}
    level = 0 if rng.random() < independent else gen.weighted(((0.5, 1), (0.3, 2), (0.2, 3)))
    for item, allowed in _SELF_CARE.items():
        grade = min(len(allowed) - 1, max(0, level - (1 if rng.random() < 0.5 else 0)))
        scores[item] = allowed[grade]
    total = sum(scores.values())
    code = "3" if total >= 19 else "2" if total >= 9 else "1" if total >= 4 else "0"
    tl.add(
        day,
        "elderly_assessment",
        {"assessed_on": gen.iso(day), **scores, "total": total, "level": code, "assessor": assessor},
    )


def allergy(gen: Generator, tl: Timeline) -> None:
    """The allergy record of someone who has one, entered on a random day of the period."""
    rng = gen.rng
    p = tl.p
    assert p.allergy is not None
    _, substance, category, drug, reaction, severity = p.allergy
    day = rng.randrange(tl.begin, tl.end + 1)
    data: dict[str, Any] = {
        "recorded_on": gen.iso(day),
        "substance": substance,
        "substance_category": category,
        "reaction": reaction,
        "severity": severity,
        "status": "active",
    }
    if drug:
        data["drug"] = drug
    onset = day - rng.randrange(0, 20 * 365)
    if onset > p.born:
        data["onset_on"] = gen.iso(onset)
    tl.add(day, "allergy", data)
