"""Maternal and child care: pregnancies, deliveries (newborns become residents), child checks, vaccines."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ._body import growth
from ._core import YEAR, Generator, Person, Timeline, minutes_of
from ._lab_imaging import imaging_report
from ._people import profile
from ._residents import resident
from ._tables import CHECK_MONTHS, SCHEDULE

__all__ = ["child_health", "plan_births", "pregnancy"]

# Windows (in weeks of pregnancy) of the five prenatal visits.
# fmt: off
_PRENATAL_WEEKS = ((16, 20), (21, 24), (28, 30), (33, 36), (37, 40))
# fmt: on


def plan_births(gen: Generator, w: Person) -> list[tuple[int, int, bool]]:
    """Pregnancies of a married woman during the period: (LMP, delivery day, twins)."""
    if w.sex != "2" or w.spouse is None:
        return []
    rng = gen.rng
    out: list[tuple[int, int, bool]] = []
    last = max((c.born for c in w.children), default=None)
    day = gen.start - 270
    while day < gen.today - 40:
        age = w.age(day)
        if age > 43:
            break
        kids = len(w.children) + len(out)
        rate = (
            0.0
            if age < 20
            else (0.4 if age < 30 else 0.2 if age < 36 else 0.03)
            if kids == 0
            else (0.18 if age < 33 else 0.06 if age < 38 else 0.01)
            if kids == 1
            else 0.02
            if kids == 2
            else 0.004
        )
        if last is not None and day - last < 1.5 * YEAR:
            rate = 0.0
        if rng.random() < rate / 12:
            lmp = day
            gest = int(rng.gauss(277, 9)) if rng.random() > 0.06 else rng.randrange(235, 258)
            delivered = lmp + max(230, min(gest, 295))
            if delivered > gen.start:
                out.append((lmp, delivered, rng.random() < 0.01))
                last = delivered
            day = delivered + 60
        else:
            day += 30
    return out


def pregnancy(gen: Generator, tl: Timeline, lmp: int, delivered: int, twins: bool) -> None:
    """Registration, five prenatal visits, delivery (newborns become residents), postpartum visits."""
    rng = gen.rng
    w = tl.p
    registered = lmp + rng.randrange(8 * 7, 13 * 7)
    if registered > gen.today or registered >= delivered:
        return
    age = w.age(registered)
    parity = len([c for c in w.children if c.born < lmp])
    risks = []
    if age >= 35:
        risks.append("高龄孕妇（≥35岁）")
    if parity and rng.random() < 0.3:
        risks.append("瘢痕子宫（既往剖宫产史）")
    hgb = rng.randrange(100, 132)
    if hgb < 110:
        risks.append("妊娠期贫血")
    sbp, dbp = rng.randrange(98, 128), rng.randrange(60, 82)
    doctor = gen.pick(gen.public_health)
    reg: dict[str, Any] = {
        "registered_on": gen.iso(registered),
        "last_menstrual_period": gen.iso(lmp),
        "expected_delivery_date": gen.iso(lmp + 280),
        "gravidity": parity + 1 + (rng.random() < 0.25),
        "parity": parity,
        "high_risk_factors": risks,
        "doctor": doctor,
        "first_check": {
            "gestational_weeks": (registered - lmp) // 7,
            "weight_kg": round(w.weight, 1),
            "height_cm": round(max(140.0, w.height), 1),
            "systolic": sbp,
            "diastolic": dbp,
            "hemoglobin": hgb,
            "hbsag": "positive" if rng.random() < 0.05 else "negative",
            "syphilis": "negative",
            "hiv": "negative",
            "findings": "心肺听诊未见异常，妇科检查未见异常。",
        },
    }
    if w.spouse is not None:
        reg["husband_name"] = w.spouse.name
    reg_key = tl.add(registered, "pregnancy_registration", reg)
    plan = [lmp + 7 * rng.randrange(lo, hi + 1) + rng.randrange(7) for lo, hi in _PRENATAL_WEEKS]
    plan = [d for d in plan if registered < d < delivered and d <= gen.today]
    for i, day in enumerate(plan):
        weeks, days = divmod(day - lmp, 7)
        visit: dict[str, Any] = {
            "visit_date": gen.iso(day),
            "gestational_weeks": weeks,
            "gestational_days": days,
            "weight_kg": round(w.weight + max(0, weeks - 12) * 0.45 + rng.uniform(-0.5, 0.5), 1),
            "systolic": rng.randrange(98, 130),
            "diastolic": rng.randrange(60, 84),
            "findings": "未见异常",
            "high_risk": bool(risks),
            "high_risk_factors": risks,
            "advice": (
                "补充叶酸，注意营养，按时产检"
                if weeks < 28
                else "自数胎动，注意休息"
                if weeks < 37
                else "做好分娩准备，如有规律宫缩、破水、阴道流血及时住院"
            ),
            "next_visit_date": gen.iso(plan[i + 1] if i + 1 < len(plan) else day + 7),
            "doctor": doctor,
        }
        if weeks >= 12:
            visit["fetal_heart_rate"] = rng.randrange(128, 158)
        if weeks >= 20:
            visit["fundal_height_cm"] = float(max(15, weeks - rng.randrange(0, 4)))
            visit["abdominal_circumference_cm"] = float(80 + (weeks - 20) + rng.randrange(0, 6))
        if i in (0, 3):
            visit["hemoglobin"] = rng.randrange(100, 130)
        tl.add(day, "prenatal_visit", visit, {"pregnancy_id": reg_key})
        if i == 1 and rng.random() < 0.7:
            image = imaging_report(gen, "fetus", w, day, weeks=weeks)
            for k in ("_item", "_price", "_order"):
                image.pop(k)
            image["institution"] = "南部县妇幼保健院"
            image["examined_at"] = gen.at(day, gen.clinic_time())
            image["reported_at"] = image["examined_at"]
            tl.add(day, "imaging_report", image)
    if delivered > gen.today:
        return
    _delivery(gen, tl, reg_key, lmp, delivered, twins=twins)


def _delivery(gen: Generator, tl: Timeline, reg_key: str, lmp: int, delivered: int, *, twins: bool) -> None:
    rng = gen.rng
    w = tl.p
    weeks = max(20, min(45, (delivered - lmp) // 7))
    mode = gen.weighted(((0.58, "vaginal"), (0.38, "cesarean"), (0.02, "vacuum"), (0.02, "forceps")))
    if twins and mode == "vaginal":
        mode = "cesarean"
    place = gen.weighted(((0.82, "hospital"), (0.14, "mch"), (0.04, "township")))
    place_name = {"hospital": "南部县人民医院", "mch": "南部县妇幼保健院", "township": gen.town.clinic}[place]
    minutes = rng.randrange(0, 24 * 60)
    when = gen.at(delivered, minutes)
    father = w.spouse
    newborns = []
    refs: dict[str, str] = {}
    midwife = gen.pick(gen.county_doctors)
    for order in range(1, 3 if twins else 2):
        sex = "1" if rng.random() < 0.53 else "2"
        base = 3250 if weeks >= 37 else 2300 - (37 - weeks) * 180
        weight_g = int(max(900, min(4600, rng.gauss(base - 500 * twins + 100 * (sex == "1"), 380))))
        length = round(max(35.0, min(56.0, 50 + (weight_g - 3300) / 250 + rng.gauss(0, 1))), 1)
        hh = w.hh
        rel = ("41" if sex == "1" else "42") if w.rel == "38" else ("20" if sex == "1" else "30")
        surname = father.surname if father is not None and father.surname else w.surname
        child = Person(
            hh.next_key(),
            hh,
            sex,
            delivered,
            surname,
            gen.given_name(sex, dt.date.fromordinal(delivered).year),
            rel=rel,
            mother=w,
            father=father,
            newborn=True,
        )
        child.ethnicity = (
            w.ethnicity
            if w.ethnicity != "01" and rng.random() < 0.5
            else (father.ethnicity if father else "01")
        )
        profile(gen, child)
        child.death = child.death_cause = None
        child.phone = w.phone or (father.phone if father else None)
        w.children.append(child)
        if father is not None:
            father.children.append(child)
        tl.add_resident(delivered, resident(gen, child))
        apgar1 = rng.choice((8, 9, 9, 10, 10)) if weeks >= 36 else rng.choice((6, 7, 8))
        nb: dict[str, Any] = {
            "sex": sex,
            "outcome": "live",
            "weight_g": weight_g,
            "length_cm": length,
            "apgar_1min": apgar1,
            "apgar_5min": min(10, apgar1 + 1),
        }
        refs[f"newborns.{order - 1}.child_resident_id"] = child.key
        newborns.append(nb)
        child.birth_info = {
            "birth_time": when,
            "place": place,
            "place_name": place_name,
            "child_name": child.name,
            "sex": sex,
            "weight_g": weight_g,
            "length_cm": length,
            "gestational_weeks": weeks,
            "mother_name": w.name,
            "birth_certificate_number": f"{gen.pick('NOPQR')}{510000000 + gen.next_serial()}",
            "midwife": midwife,
        }
        if twins:
            child.birth_info["multiple_birth_order"] = order
        if w.id_number:
            child.birth_info["mother_id_number"] = w.id_number
        if father is not None:
            child.birth_info["father_name"] = father.name
        child.pregnancy_key = reg_key
    blood = rng.randrange(300, 650) if mode == "cesarean" else rng.randrange(120, 400)
    data: dict[str, Any] = {
        "delivery_time": when,
        "gestational_weeks": weeks,
        "mode": mode,
        "place": place,
        "place_name": place_name,
        "outcome": "good",
        "blood_loss_ml": blood,
        "newborns": newborns,
        "attended_by": midwife,
    }
    if blood >= 500 and mode == "vaginal":
        data["complications"] = "产后出血"
        data["outcome"] = "complication"
    tl.add(delivered, "delivery", data, {"pregnancy_id": reg_key, **refs})
    for offset in (rng.randrange(3, 8), rng.randrange(42, 50)):
        day = delivered + offset
        if day > tl.end:
            break
        abnormal = rng.random() < 0.05
        visit: dict[str, Any] = {
            "visit_date": gen.iso(day),
            "days_after_delivery": offset,
            "temperature_c": round(rng.uniform(36.3, 37.2), 1),
            "systolic": rng.randrange(100, 130),
            "diastolic": rng.randrange(62, 84),
            "general_health": "一般情况良好，饮食睡眠可",
            "mental_state": {"status": "normal"},
            "breast": {"status": "abnormal", "note": "左乳外上象限胀痛、可触及硬结，考虑乳汁淤积"}
            if abnormal
            else {"status": "normal"},
            "lochia": {
                "status": "normal",
                "note": "血性恶露，量少，无异味" if offset < 10 else "恶露已净",
            },
            "uterus": {"status": "normal"},
            "classification": "abnormal" if abnormal else "normal",
            "advice": "指导母乳喂养及产褥期卫生，注意营养，42天后复查"
            if offset < 10
            else "产后恢复良好，落实避孕措施",
            "doctor": gen.pick(gen.public_health),
        }
        if mode == "cesarean":
            visit["wound"] = {"status": "normal", "note": "腹部切口愈合良好"}
        tl.add(day, "postpartum_visit", visit, {"pregnancy_id": reg_key})


def _newborn_records(gen: Generator, tl: Timeline) -> None:
    """A child born during the period: the birth record and the home visit in the first week."""
    rng = gen.rng
    c = tl.p
    assert c.mother is not None and c.birth_info is not None and c.pregnancy_key is not None
    tl.add(c.born, "birth", dict(c.birth_info), {"mother_id": c.mother.key, "pregnancy_id": c.pregnancy_key})
    day = c.born + rng.randrange(3, 8)
    if day > tl.end:
        return
    days_old = day - c.born
    birth_g = c.birth_info["weight_g"]
    data: dict[str, Any] = {
        "visit_date": gen.iso(day),
        "days_old": days_old,
        "birth_weight_g": birth_g,
        "weight_g": int(birth_g * rng.uniform(0.93, 1.02)),
        "temperature_c": round(rng.uniform(36.4, 37.2), 1),
        "feeding": gen.weighted(((0.6, "breast"), (0.3, "mixed"), (0.1, "formula"))),
        "jaundice": gen.weighted(((0.45, "none"), (0.4, "face"), (0.15, "trunk"))),
        "umbilical_cord": "separated" if days_old >= 7 and rng.random() < 0.5 else "attached",
        "findings": "一般情况好，哭声响亮，前囟平软，心肺未见异常，脐部干燥",
        "advice": "坚持母乳喂养，注意保暖，按时接种疫苗，满月时到卫生院健康检查",
        "next_visit_date": gen.iso(c.born + 28 + rng.randrange(0, 5)),
        "doctor": gen.pick(gen.public_health),
    }
    tl.add(day, "newborn_visit", data, {"pregnancy_id": c.pregnancy_key})


def child_health(gen: Generator, tl: Timeline) -> None:
    """Well-child checks and the national immunisation schedule for the under-sevens."""
    rng = gen.rng
    c = tl.p
    if c.newborn:
        _newborn_records(gen, tl)
    due = [(c.born + round(m * 30.44) + rng.randrange(0, 12), m) for m in CHECK_MONTHS]
    for i, (day, months) in enumerate(due):
        if not tl.begin <= day <= tl.end or rng.random() > 0.93:
            continue
        weight, height, head = growth(c.sex, months)
        z = c.z + rng.gauss(0, 0.15)
        evaluation = "high" if z > 2 else "low" if z < -2 else "normal"
        data: dict[str, Any] = {
            "check_date": gen.iso(day),
            "age_months": months,
            "weight_kg": round(weight * (1 + 0.11 * z), 1),
            "height_cm": round(height * (1 + 0.035 * z), 1),
            "weight_for_age": evaluation,
            "height_for_age": evaluation,
            "weight_for_height": "normal",
            "development_passed": rng.random() > 0.02,
            "findings": "未见异常",
            "advice": "合理喂养，按时添加辅食，预防意外伤害"
            if months < 24
            else "均衡膳食，户外活动，保护视力及口腔卫生",
            "doctor": gen.pick(gen.public_health),
        }
        if months <= 36:
            data["head_circumference_cm"] = round(head * (1 + 0.03 * z), 1)
        if months in (6, 12, 24, 36):
            hgb = rng.randrange(102, 135)
            data["hemoglobin"] = hgb
            if hgb < 110:
                data["findings"] = "轻度贫血"
                data["advice"] = "补充含铁丰富的食物，如动物肝脏、红肉，1-3月后复查血红蛋白"
        if i + 1 < len(due):
            data["next_check_date"] = gen.iso(max(due[i + 1][0], day + 1))
        tl.add(day, "child_check", data)
    given: list[tuple[int, int]] = []
    for j, (_, _, age_days, *_) in enumerate(SCHEDULE):
        day = c.born + age_days + (0 if age_days == 0 else rng.randrange(0, 10))
        if not tl.begin <= day <= tl.end or (age_days and rng.random() > 0.97):
            continue
        given.append((day, j))
    for day, j in given:
        vaccine, dose, age_days, route, site, maker = SCHEDULE[j]
        at_birth = age_days == 0
        minutes = (
            rng.randrange(8 * 60, 16 * 60)
            if not at_birth
            else minutes_of(c.birth_info["birth_time"]) + 120
            if c.birth_info
            else 600
        )
        data = {
            "given_at": gen.at(day, minutes),
            "vaccine": vaccine,
            "dose_number": dose,
            "lot_number": gen.lot(day),
            "manufacturer": maker,
            "site": site,
            "route": route,
            "administered_by": gen.pick(gen.county_doctors if at_birth else gen.nurses),
        }
        later = [c.born + a for _, _, a, *_ in SCHEDULE[j + 1 :] if c.born + a > day]
        if later:
            data["next_due_on"] = gen.iso(min(later))
        tl.add(day, "immunization", data)
