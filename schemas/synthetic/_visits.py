"""Outpatient visits: how often, for what, and what follows (prescription, lab, imaging, vaccines)."""

from __future__ import annotations

import datetime as dt
from bisect import bisect
from typing import Any

from ._body import blood_pressure, child_weight
from ._conditions import AGE_BANDS, DX, Dx
from ._core import YEAR, Generator, Person, Timeline
from ._lab_imaging import imaging_report, lab_panel
from ._prescriptions import choose_rx, rx_item

__all__ = ["encounter", "outpatient"]


def outpatient(gen: Generator, tl: Timeline) -> None:
    """Visits at a rate by age (a quarter of it while away), plus chronic patients' own visits."""
    p = tl.p
    span = (tl.end - tl.begin + 1) / YEAR
    age = p.age((tl.begin + tl.end) // 2)
    rate = (
        4.0
        if age < 3
        else 3.0
        if age < 7
        else 1.3
        if age < 18
        else 1.1
        if age < 45
        else 1.8
        if age < 65
        else 2.8
    )
    if p.away:
        rate *= 0.25
    for _ in range(gen.poisson(rate * span)):
        day = gen.rng.randrange(tl.begin, tl.end + 1)
        a = p.age(day)
        fits, cum = gen.town.dx_tables[bisect(AGE_BANDS, a) - 1, p.sex, gen.month(day)]
        for _ in range(4):  # the tables are by age band; the diagnosis must fit the exact age
            dx = fits[bisect(cum, gen.rng.random() * cum[-1])]
            if dx.ages[0] <= int(a) <= dx.ages[1]:
                encounter(gen, tl, day, dx)
                break
    extra = (
        ("htn", p.htn is not None, 2.0),
        ("dm", p.dm is not None, 2.0),
        ("chd", p.chd, 0.8),
        ("copd", p.copd, 1.0),
        ("cardio", p.htn is not None or p.dm is not None, 0.15),
    )
    for need, has, yearly in extra:
        if not has:
            continue
        options = [d for d in DX if d.requires == need]
        for _ in range(gen.poisson(yearly * span * (0.3 if p.away else 1.0))):
            day = gen.rng.randrange(tl.begin, tl.end + 1)
            if p.age(day) >= 18:
                encounter(gen, tl, day, gen.pick(options))


def encounter(
    gen: Generator,
    tl: Timeline,
    day: int,
    dx: Dx,
    *,
    complaint: str | None = None,
    illness: str | None = None,
    diagnoses: list[dict[str, Any]] | None = None,
) -> tuple[str, str]:
    """An outpatient visit and what follows from it; returns (encounter key, visit time)."""
    rng = gen.rng
    p = tl.p
    age = p.age(day)
    minutes = gen.clinic_time()
    when = gen.at(day, minutes)
    fever = rng.random() < dx.fever
    temp = round(rng.uniform(38.0, 39.6) if fever else rng.uniform(36.2, 37.1), 1)
    base_pulse = 120 if age < 1 else 105 if age < 3 else 92 if age < 7 else 80 if age < 14 else 74
    vitals: dict[str, Any] = {
        "temperature_c": temp,
        "pulse": int(base_pulse + rng.randrange(-8, 12) + (temp - 37) * 10 * fever),
        "respiration": (
            rng.randrange(30, 42)
            if age < 1
            else rng.randrange(24, 32)
            if age < 3
            else rng.randrange(20, 26)
            if age < 7
            else rng.randrange(16, 21)
        ),
    }
    if age >= 14:
        vitals["systolic"], vitals["diastolic"] = blood_pressure(gen, p, day)
    if age < 14:
        vitals["weight_kg"] = child_weight(p, day)
    if dx.icd in ("J18.9", "J18.0", "J44.1"):
        vitals["spo2"] = rng.randrange(90, 96)
    n = rng.randrange(dx.span[0], dx.span[1] + 1)
    fever_text = f"伴发热，最高体温{round(temp + rng.uniform(0, 0.5), 1)}℃，" if fever else "无发热，"
    doctor = gen.pick(gen.doctors)
    if dx.requires in ("htn", "dm") and complaint is None:
        complaint, illness, drugs = _refill(gen, p, day, dx.requires, vitals)
    else:
        drugs = choose_rx(gen, dx, p, age, fever)
    data: dict[str, Any] = {
        "visit_time": when,
        "department": dx.dept if not (age < 14 and dx.dept == "全科") else "儿科",
        "doctor": doctor,
        "chief_complaint": complaint or dx.complaint.format(n=n),
        "present_illness": illness if illness is not None else dx.illness.format(n=n, fever=fever_text),
        "physical_exam": dx.exam,
        "vitals": vitals,
        "diagnoses": diagnoses or _diagnoses(p, day, dx.icd),
        "advice": dx.advice,
    }
    orders: list[dict[str, Any]] = []
    charges: list[dict[str, Any]] = [
        {"item": "一般诊疗费", "category": "consultation", "unit_price": "10.00"}
    ]
    lab = dx.lab if dx.lab and rng.random() < dx.lab[1] else None
    imaging = dx.imaging if dx.imaging and rng.random() < dx.imaging[1] else None
    if dx.icd == "E11.9" and lab and rng.random() < 0.3:
        lab = ("glucose+hba1c", 1.0)
    lab_report = lab_panel(gen, lab[0], p, day, dx) if lab else None
    image = imaging_report(gen, imaging[0], p, day) if imaging else None
    if lab_report:
        orders.append({"kind": "lab", "item": lab_report["panel_name"]})
        charges.append(
            {"item": lab_report["panel_name"], "category": "lab", "unit_price": lab_report.pop("_price")}
        )
    if image:
        orders.append({"kind": image.pop("_order"), "item": image["_item"]})
        charges.append({"item": image.pop("_item"), "category": "imaging", "unit_price": image.pop("_price")})
    items = [rx_item(gen, d, p, day) for d in drugs]
    for it in items:
        info = gen.town.drugs[it["drug"]]
        charges.append(
            {
                "item": info["name"],
                "category": "drug_tcm" if info["tcm"] else "drug_western",
                "quantity": str(it["quantity"]),
                "unit_price": it["unit_price"],
            }
        )
    routes = {it["route"] for it in items}
    if "ivgtt" in routes:
        charges.append({"item": "静脉输液", "category": "treatment", "quantity": "3", "unit_price": "8.00"})
    if "im" in routes:
        charges.append({"item": "肌内注射", "category": "treatment", "unit_price": "3.00"})
    if dx.icd == "S61.0":
        orders.append({"kind": "procedure", "item": "清创缝合术"})
        charges.append({"item": "清创缝合术", "category": "treatment", "unit_price": "80.00"})
    if dx.icd == "W54":
        orders.append({"kind": "procedure", "item": "伤口冲洗消毒"})
        charges.append({"item": "伤口冲洗消毒", "category": "treatment", "unit_price": "20.00"})
    if orders:
        data["orders"] = orders
    data["charges"] = charges
    key = tl.add(day, "encounter", data)
    if items:
        tl.add(
            day,
            "prescription",
            {
                "prescribed_at": gen.at(day, minutes + rng.randrange(5, 20)),
                "doctor": doctor,
                "items": items,
            },
            {"encounter_id": key},
        )
    if lab_report:
        lab_report["collected_at"] = gen.at(day, minutes + rng.randrange(10, 30))
        lab_report["reported_at"] = gen.at(day, minutes + rng.randrange(40, 120))
        tl.add(day, "lab_report", lab_report, {"encounter_id": key})
    if image:
        image["examined_at"] = gen.at(day, minutes + rng.randrange(15, 40))
        image["reported_at"] = gen.at(day, minutes + rng.randrange(45, 100))
        tl.add(day, "imaging_report", image, {"encounter_id": key})
    if dx.icd == "W54":
        _rabies(gen, tl, day, minutes)
    return key, when


def _diagnoses(p: Person, day: int, icd: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"icd10": icd, "primary": True}]
    year = dt.date.fromordinal(day).year
    for code, since in (("I10", p.htn), ("E11.9", p.dm)):
        if since is not None and since <= year and code != icd:
            out.append({"icd10": code})
    return out


def _refill(
    gen: Generator, p: Person, day: int, which: str, vitals: dict[str, Any]
) -> tuple[str, str, list[str]]:
    """Complaint, history and drugs of a chronic patient's routine visit for medicine."""
    year = dt.date.fromordinal(day).year
    if which == "htn":
        since = p.htn or year
        drugs = list(p.regimen) or ["amlodipine_5mg_tab"]
        names = "、".join(gen.town.drugs[d]["name"].split(" ")[0] for d in drugs)
        ok = "平稳" if vitals.get("systolic", 120) < 140 and vitals.get("diastolic", 80) < 90 else "欠佳"
        return (
            "高血压复诊取药",
            f"高血压病史{max(1, year - since)}年，平素服用{names}，近期血压控制{ok}，无头痛、胸闷。",
            drugs,
        )
    since = p.dm or year
    drugs = list(p.dm_regimen) or ["metformin_500mg_tab"]
    names = "、".join(gen.town.drugs[d]["name"].split(" ")[0] for d in drugs)
    return (
        "糖尿病复诊取药",
        f"2型糖尿病病史{max(1, year - since)}年，服用{names}，无多饮多尿，无手足麻木。",
        drugs,
    )


def _rabies(gen: Generator, tl: Timeline, day: int, minutes: int) -> None:
    p = tl.p
    site = "L_thigh" if p.age(day) < 2 else "L_deltoid"
    for dose, offset in enumerate((0, 3, 7, 14, 28), start=1):
        d = day + offset
        if d > tl.end:
            break
        given = gen.at(d, minutes + 30 if offset == 0 else gen.clinic_time())
        data: dict[str, Any] = {
            "given_at": given,
            "vaccine": "Rabies",
            "dose_number": dose,
            "lot_number": gen.lot(d),
            "manufacturer": "成都康华生物制品股份有限公司",
            "site": site,
            "route": "im",
            "administered_by": gen.pick(gen.nurses),
        }
        if dose < 5:
            data["next_due_on"] = gen.iso(day + (3, 7, 14, 28)[dose - 1])
        tl.add(d, "immunization", data)
