"""Lab and imaging reports whose findings fit the patient (and the diagnosis that ordered them).

Reports come without times or refs; ``_price`` (and for imaging ``_order``, ``_item``) are for the
ordering encounter's charges and are popped before a report is emitted.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from ._body import fasting_glucose
from ._conditions import Dx
from ._core import Generator, Person

__all__ = ["imaging_report", "lab_panel"]


def lab_panel(gen: Generator, panel: str, p: Person, day: int, dx: Dx | None = None) -> dict[str, Any]:
    """A lab report of ``panel`` (cbc, anemia, glucose, glucose+hba1c, lipids, urine, chem)."""
    rng = gen.rng
    age = p.age(day)
    male = p.sex == "1"
    items: list[dict[str, Any]]
    if panel in ("cbc", "anemia"):
        infection = dx.infection if dx else ""
        child = age < 12
        if infection == "bacterial":
            wbc, neut = rng.uniform(9.8, 16.5), rng.uniform(74, 88)
        elif infection == "viral":
            wbc, neut = rng.uniform(3.4, 7.8), rng.uniform(38, 60)
        else:
            wbc, neut = rng.uniform(4.2, 9.0), rng.uniform(48, 70)
        lym = max(5.0, 100 - neut - rng.uniform(5, 10))
        hgb = (
            rng.uniform(82, 108)
            if panel == "anemia"
            else rng.gauss(140 if male else 125, 9)
            if age >= 12
            else rng.gauss(122, 8)
        )
        hgb_ref = (110, 160) if child else (130, 175) if male else (115, 150)
        rbc_ref = (4.0, 5.5) if child else (4.3, 5.8) if male else (3.8, 5.1)
        items = [
            _lab("6690-2", wbc, (4.0, 12.0) if child else (3.5, 9.5)),
            _lab("770-8", neut, (31, 70) if child else (40, 75)),
            _lab("736-9", lym, (23, 59) if child else (20, 50)),
            _lab("789-8", hgb / 29.5, rbc_ref),
            _lab("718-7", hgb, hgb_ref),
            _lab("777-3", rng.uniform(140, 320), (125, 350)),
        ]
        return _lab_report(gen, items, "blood", name="血常规", code="CBC", price="20.00")
    if panel in ("glucose", "glucose+hba1c"):
        fpg = fasting_glucose(gen, p, day)
        items = [_lab("1558-6", fpg, (3.9, 6.1))]
        if panel == "glucose+hba1c":
            items.append(_lab("4548-4", (fpg + 2.59) / 1.59 + rng.uniform(-0.3, 0.3), (4.0, 6.0)))
            return _lab_report(
                gen, items, "blood", name="空腹血糖+糖化血红蛋白", code="GLU-HBA1C", price="65.00"
            )
        return _lab_report(gen, items, "serum", name="空腹血糖", code="GLU", price="5.00")
    if panel == "lipids":
        high = dx is not None and dx.icd == "E78.5"
        items = _lipid_items(gen, high)
        return _lab_report(gen, items, "serum", name="血脂四项", code="LIPID4", price="40.00")
    if panel == "urine":
        uti = dx is not None and dx.icd == "N39.0"
        items = [
            {
                "code": "20454-5",
                "name": "尿蛋白",
                "value": "阴性",
                "reference_range": "阴性",
                "abnormal": "N",
            },
            {
                "code": "25428-4",
                "name": "尿葡萄糖",
                "value": "阴性",
                "reference_range": "阴性",
                "abnormal": "N",
            },
            {
                "code": "5799-2",
                "name": "白细胞酯酶",
                "value": "++" if uti else "阴性",
                "reference_range": "阴性",
                "abnormal": "A" if uti else "N",
            },
            {
                "code": "5802-4",
                "name": "亚硝酸盐",
                "value": "阳性" if uti and rng.random() < 0.6 else "阴性",
                "reference_range": "阴性",
            },
            _lab("5811-5", rng.uniform(1.008, 1.028), (1.003, 1.030)),
        ]
        items[3]["abnormal"] = "A" if items[3]["value"] == "阳性" else "N"
        return _lab_report(gen, items, "urine", name="尿常规", code="UA", price="10.00")
    if panel == "chem":
        fpg = fasting_glucose(gen, p, day)
        items = [
            _lab(
                "1742-6",
                rng.uniform(10, 38) if rng.random() > 0.07 else rng.uniform(52, 90),
                (9, 50) if male else (7, 40),
            ),
            _lab("1920-8", rng.uniform(15, 34), (15, 40) if male else (13, 35)),
            _lab("1975-2", rng.uniform(5, 19), (0, 21)),
            _lab(
                "2160-0",
                rng.uniform(58, 105)
                * (1.0 if male else 0.78)
                * (1.35 if p.dm and rng.random() < 0.15 else 1.0),
                (57, 111) if male else (41, 81),
            ),
            _lab("22664-7", rng.uniform(3.2, 7.8), (2.9, 8.2)),
            _lab(
                "3084-1",
                rng.uniform(230, 470) if male else rng.uniform(170, 380),
                (208, 428) if male else (155, 357),
            ),
            *_lipid_items(gen, False),
            _lab("1558-6", fpg, (3.9, 6.1)),
        ]
        return _lab_report(
            gen, items, "serum", name="生化全项（肝功、肾功、血脂、血糖）", code="CHEM", price="90.00"
        )
    raise ValueError(f"unknown lab panel {panel!r}")  # pragma: no cover


def _lipid_items(gen: Generator, high: bool) -> list[dict[str, Any]]:
    rng = gen.rng
    tc = rng.gauss(6.1 if high else 4.8, 0.7)
    ldl = max(0.8, tc * 0.62 + rng.gauss(0, 0.25))
    return [
        _lab("2093-3", tc, (None, 5.2)),
        _lab("2571-8", math.exp(rng.gauss(0.45 if high else 0.25, 0.4)), (None, 1.7)),
        _lab("2085-9", max(0.6, rng.gauss(1.3, 0.28)), (1.04, None)),
        _lab("13457-7", ldl, (None, 3.4)),
    ]


def _lab_report(
    gen: Generator, items: list[dict[str, Any]], specimen: str, *, name: str, code: str, price: str
) -> dict[str, Any]:
    staff = gen.lab_staff
    return {
        "specimen": specimen,
        "panel_name": name,
        "panel_code": code,
        "items": items,
        "lab_name": f"{gen.town.clinic}检验科",
        "reported_by": staff[0],
        "reviewer": staff[1],
        "_price": price,
    }


def imaging_report(gen: Generator, kind: str, p: Person, day: int, *, weeks: int = 0) -> dict[str, Any]:
    """An imaging report without times or refs (``_order``, ``_item``, ``_price``: for the encounter)."""
    rng = gen.rng
    if kind == "ecg":
        modality, part, item, price, order = "ECG", "HEART", "常规心电图", "25.00", "ecg"
        findings, conclusion, positive = _ecg(gen, p, day)
    elif kind in ("chest", "pneumonia", "copd", "tb"):
        modality, part, item, price, order = "DX", "CHEST", "胸部正位DR", "60.00", "imaging"
        findings, conclusion, positive = {
            "chest": (
                "双肺纹理增多、增粗，未见明显实变影，心影大小形态正常，双膈面光整。",
                "双肺纹理增多，考虑支气管炎改变。",
                True,
            )
            if rng.random() < 0.6
            else (
                "双肺纹理清晰，未见明显实质性病变，心影大小形态正常，双膈面光整。",
                "心肺未见明显异常。",
                False,
            ),
            "pneumonia": (
                "右下肺野见斑片状模糊影，边缘不清，心影不大，右肋膈角清晰。",
                "右下肺炎症，建议治疗后复查。",
                True,
            ),
            "copd": (
                "双肺透亮度增高，肺纹理紊乱、增粗，膈肌低平，心影狭长。",
                "慢性支气管炎、肺气肿征象。",
                True,
            ),
            "tb": (
                "右上肺见斑片状、条索状密度增高影，边缘模糊，其内见小透亮区。",
                "右上肺继发性肺结核可能，请结合痰检。",
                True,
            ),
        }[kind]
    elif kind == "abdomen":
        modality, part, item, price, order = "US", "LIVER", "腹部彩超（肝胆胰脾）", "80.00", "ultrasound"
        findings, conclusion, positive = _abdomen(gen, p)
    elif kind == "urinary":
        modality, part, item, price, order = "US", "KIDNEY", "泌尿系彩超", "80.00", "ultrasound"
        findings, conclusion, positive = (
            "双肾大小形态正常，前列腺增大，约4.8cm×3.9cm×3.6cm，内腺回声不均，残余尿约30ml。",
            "前列腺增生。",
            True,
        )
    elif kind == "fetus":
        modality, part, item, price, order = "US", "FETUS", "产科彩超", "120.00", "ultrasound"
        findings = (
            f"宫内见一胎儿，胎心搏动可见，双顶径及股骨长符合孕{weeks}周，胎盘位于子宫前壁，羊水深度约5.0cm。"
        )
        conclusion, positive = f"宫内妊娠，单活胎，约孕{weeks}周。", False
    else:
        part = {"lspine": "LSPINE", "knee": "KNEE", "ankle": "FOOT"}[kind]
        modality, item, price, order = (
            "DX",
            {"LSPINE": "腰椎正侧位DR", "KNEE": "双膝关节正侧位DR", "FOOT": "踝关节正侧位DR"}[part],
            "80.00",
            "imaging",
        )
        findings, conclusion, positive = {
            "LSPINE": (
                "腰椎生理曲度变直，L3-5椎体边缘骨质增生，椎间隙未见明显狭窄。",
                "腰椎退行性变。",
                True,
            ),
            "KNEE": (
                "双膝关节间隙内侧变窄，髁间隆起变尖，关节边缘骨质增生。",
                "双膝关节退行性骨关节病。",
                True,
            ),
            "FOOT": (
                "右踝关节诸骨骨质连续，未见明显骨折征象，软组织肿胀。",
                "右踝关节未见明显骨折。",
                False,
            ),
        }[part]
    serial = gen.next_serial()
    yy = dt.date.fromordinal(day).year % 100
    prefix = {"ECG": "EC", "US": "US"}.get(modality, "DR")
    return {
        "modality": modality,
        "body_part": part,
        "study_uid": f"1.2.156.112605.{gen.town.code}.{day}.{serial}",
        "accession_number": f"{prefix}{yy:02d}{serial:08d}",
        "findings": findings,
        "conclusion": conclusion,
        "positive": positive,
        "reporting_doctor": gen.pick(gen.doctors),
        "institution": gen.town.clinic,
        "_item": item,
        "_price": price,
        "_order": order,
    }


def _ecg(gen: Generator, p: Person, day: int) -> tuple[str, str, bool]:
    rng = gen.rng
    age = p.age(day)
    if p.chd and rng.random() < 0.6:
        return (
            "窦性心律，心率68次/分，V4-V6导联ST段水平压低0.05-0.1mV，T波低平。",
            "窦性心律；ST-T改变。",
            True,
        )
    if age > 75 and rng.random() < 0.08:
        return "P波消失，代之以大小不等f波，心室率约86次/分，RR间期绝对不等。", "心房颤动。", True
    if p.htn is not None and rng.random() < 0.3:
        return "窦性心律，心率72次/分，RV5+SV1=4.3mV。", "窦性心律；左心室高电压。", True
    return (
        f"窦性心律，心率{rng.randrange(62, 88)}次/分，各导联ST-T未见明显异常。",
        "窦性心律，正常心电图。",
        False,
    )


def _abdomen(gen: Generator, p: Person) -> tuple[str, str, bool]:
    r = gen.rng.random()
    if r < 0.22 + 0.1 * (p.dm is not None):
        return (
            "肝脏大小正常，实质回声细密增强，后方回声衰减，胆囊、胰腺、脾脏未见明显异常。",
            "脂肪肝（轻度）。",
            True,
        )
    if r < 0.3 + 0.1 * (p.dm is not None):
        return "胆囊大小正常，囊内见一强回声团，大小约0.8cm，后伴声影，随体位移动。", "胆囊结石。", True
    return (
        "肝脏大小形态正常，实质回声均匀，胆囊、胰腺、脾脏未见明显异常。",
        "肝胆胰脾未见明显异常。",
        False,
    )


# Lab tests by LOINC code: (name, unit, decimals reported).
_TESTS: dict[str, tuple[str, str | None, int]] = {
    "2093-3": ("总胆固醇", "mmol/L", 2),
    "2571-8": ("甘油三酯", "mmol/L", 2),
    "2085-9": ("高密度脂蛋白胆固醇", "mmol/L", 2),
    "13457-7": ("低密度脂蛋白胆固醇", "mmol/L", 2),
    "6690-2": ("白细胞计数", "10^9/L", 2),
    "770-8": ("中性粒细胞百分比", "%", 1),
    "736-9": ("淋巴细胞百分比", "%", 1),
    "789-8": ("红细胞计数", "10^12/L", 2),
    "718-7": ("血红蛋白", "g/L", 0),
    "777-3": ("血小板计数", "10^9/L", 0),
    "1558-6": ("空腹血糖", "mmol/L", 2),
    "5811-5": ("尿比重", None, 3),
    "1742-6": ("丙氨酸氨基转移酶", "U/L", 0),
    "1920-8": ("天门冬氨酸氨基转移酶", "U/L", 0),
    "1975-2": ("总胆红素", "μmol/L", 1),
    "2160-0": ("肌酐", "μmol/L", 0),
    "22664-7": ("尿素", "mmol/L", 2),
    "3084-1": ("尿酸", "μmol/L", 0),
    "4548-4": ("糖化血红蛋白", "%", 1),
}


def _lab(code: str, value: float, ref: tuple[float | None, float | None]) -> dict[str, Any]:
    """A numeric lab item with its reference range and the flag the range implies."""
    name, unit, digits = _TESTS[code]
    v = round(value, digits) if digits else float(round(value))
    low, high = ref
    item: dict[str, Any] = {"code": code, "name": name, "value": v}
    if unit:
        item["unit"] = unit
    if low is not None:
        item["reference_low"] = float(low)
    if high is not None:
        item["reference_high"] = float(high)
    if low is None and high is not None:
        item["reference_range"] = f"<{high}"
    elif high is None and low is not None:
        item["reference_range"] = f">{low}"
    item["abnormal"] = "H" if high is not None and v > high else "L" if low is not None and v < low else "N"
    return item
