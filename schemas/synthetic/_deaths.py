"""Deaths: where and when, the last stay or referral before, and the death certificate."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ._core import Generator, Timeline
from ._hospital import inpatient, referral_back, referral_out
from ._tables import DEATH_CAUSES

__all__ = ["death"]


def death(gen: Generator, tl: Timeline) -> None:
    """The death of ``tl.p``: a last stay or referral where it fits, then the death record."""
    rng = gen.rng
    p = tl.p
    assert p.death is not None and p.death_cause is not None
    cause = p.death_cause
    day = p.death
    immediate, chain = DEATH_CAUSES[cause]
    acute = cause in ("I63.9", "I61.9", "I21.9", "V89.2", "T75.1")
    place = (
        gen.weighted(((0.35, "home"), (0.3, "en_route"), (0.35, "emergency")))
        if acute
        else gen.weighted(
            ((0.72, "home"), (0.2, "ward"), (0.05, "nursing_home"), (0.03, "other_institution"))
        )
    )
    minutes = rng.randrange(0, 24 * 60)
    when = gen.at(day, minutes)
    if place == "ward" and cause in ("J44.9", "J18.9", "I50.9", "N18.9", "R54", "W19"):
        admitted = day - rng.randrange(2, 9)
        if admitted >= tl.begin:
            icd = {
                "J44.9": "J44.1",
                "J18.9": "J18.9",
                "I50.9": "I50.9",
                "N18.9": "N18.9",
                "R54": "J18.9",
                "W19": "J18.9",
            }[cause]
            inpatient(
                gen,
                tl,
                admitted,
                day,
                (icd, "内科", 0, 0, 0, "", ()),
                died=gen.at(day, max(minutes, 12 * 60)),
            )
            when = gen.at(day, max(minutes, 12 * 60))
        else:
            place = "home"
    if cause.startswith("C") and day - 120 >= tl.begin and rng.random() < 0.7:
        seen = day - rng.randrange(120, 400)
        if seen >= tl.begin:
            what = {
                "C34.9": "咳嗽、痰中带血2月，胸片示左肺门肿块",
                "C15.9": "进行性吞咽困难2月",
                "C16.9": "上腹痛、消瘦3月，黑便",
                "C22.0": "右上腹痛、消瘦，B超示肝占位",
            }[cause]
            out = referral_out(
                gen,
                tl,
                seen,
                when=gen.at(seen, gen.clinic_time()),
                icd=cause,
                reason=f"{what}，疑恶性肿瘤",
                urgency="urgent",
            )
            if seen + 21 < day:
                referral_back(
                    gen,
                    tl,
                    seen + rng.randrange(10, 21),
                    out,
                    icd=cause,
                    results=f"病理确诊为{chain[-1][0]}，已失去手术机会。",
                    treatment="姑息治疗及止痛，家属要求回家休养，请基层协助居家照护。",
                )
    elif acute and cause.startswith("I") and place != "home" and rng.random() < 0.5:
        referral_out(
            gen,
            tl,
            day,
            when=gen.at(day, max(0, minutes - 60)),
            icd=cause,
            reason="突发胸痛、大汗，疑急性心肌梗死"
            if cause == "I21.9"
            else "突发意识障碍、肢体无力，疑急性脑血管病",
            urgency="emergency",
        )
    certified = min(gen.today, day + rng.randrange(0, 3))
    year = dt.date.fromordinal(day).year
    data: dict[str, Any] = {
        "death_time": when,
        "place": place,
        "immediate_cause": immediate,
        "causes_chain": [
            {k: v for k, v in (("description", d), ("icd10", i), ("interval", t)) if v} for d, i, t in chain
        ],
        "underlying_cause": cause,
        "certifier": gen.village_doctors[p.hh.village.code] if place == "home" else gen.pick(gen.doctors),
        "certificate_number": f"S{gen.town.code}{year % 100:02d}{gen.next_serial():06d}",
        "certified_on": gen.iso(certified),
    }
    others = [
        {"description": n, "icd10": c}
        for c, y, n in (("I10", p.htn, "高血压病"), ("E11.9", p.dm, "2型糖尿病"))
        if y is not None and c not in {i for _, i, _ in chain}
    ]
    if others:
        data["other_conditions"] = others
    tl.add(day, "death", data)
