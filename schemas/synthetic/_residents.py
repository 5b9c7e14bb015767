"""The resident record of a household member: identity, contacts, history and family links."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ._core import Generator, Person
from ._items import SynthResident

__all__ = ["resident"]


def resident(gen: Generator, p: Person) -> SynthResident:
    """The resident record of ``p``, with refs to mother, father and (from the later spouse) spouse."""
    rng = gen.rng
    hh = p.hh
    age = p.age(gen.today)
    data: dict[str, Any] = {
        "name": p.name,
        "sex": p.sex,
        "birth_date": gen.iso(p.born),
        "ethnicity": p.ethnicity,
        "address": {
            "division_code": hh.village.code,
            "township": gen.town.name,
            "village": hh.village.name,
            "street": hh.street,
        },
    }
    if p.name_latin:
        data["name_latin"] = p.name_latin
    if age < 1 and (age < 0.25 or rng.random() < 0.4):  # the hukou (and number) comes later
        data["id_number_missing"] = "newborn"
    elif age >= 18 and rng.random() < 0.006:
        data["id_number_missing"] = "not_at_hand"
    else:
        p.id_number = gen.id_number(p.born, p.sex)
        data["id_number"] = p.id_number
        if rng.random() < 0.93:
            data["insurance_number"] = p.id_number  # the social security number is the ID number
    if rng.random() < (0.6 if p.newborn else 0.88):
        data["card_number"] = f"SC{gen.town.code[6:]}{gen.card_batch:04d}{gen.next_serial():07d}"
    if p.phone:
        data["phone"] = p.phone
    if age >= 15:
        data["marital_status"] = (
            "30" if p.widowed else "20" if p.married else "40" if age > 30 and rng.random() < 0.08 else "10"
        )
    occupation = _occupation(gen, p, age)
    if occupation and rng.random() < 0.96:
        data["occupation"] = occupation
    if rng.random() < 0.6:
        abo = gen.weighted(((0.29, "A"), (0.25, "B"), (0.36, "O"), (0.10, "AB")))
        data["blood_type"] = {"abo": abo, "rh": "negative" if rng.random() < 0.004 else "positive"}
    elif rng.random() < 0.3:
        data["blood_type"] = {"abo": "unknown", "rh": "unknown"}
    history = _past_history(gen, p)
    if history:
        data["past_history"] = history
    fh = []
    for parent, rel in ((p.father, "51"), (p.mother, "52")):
        if parent is not None and parent.htn is not None:
            fh.append({"relation": rel, "icd10": "I10"})
        if parent is not None and parent.dm is not None:
            fh.append({"relation": rel, "icd10": "E11.9"})
    if not fh and age >= 30 and rng.random() < 0.12:
        fh.append(
            {
                "relation": gen.pick(("51", "52")),
                "icd10": gen.pick(("I10", "I10", "E11.9", "I63.9", "C16.9")),
            }
        )
    if fh:
        data["family_history"] = fh
    if p.disabilities:
        data["disabilities"] = list(p.disabilities)
    contact = _emergency_contact(gen, p, age)
    if contact and rng.random() < 0.85:
        data["emergency_contacts"] = [contact]
    family: dict[str, Any] = {"household_id": hh.hid, "relation_to_head": p.rel}
    refs: dict[str, str] = {}
    if p.mother is not None:
        refs["family.mother_id"] = p.mother.key
    if p.father is not None:
        refs["family.father_id"] = p.father.key
    if p.spouse is not None and p.link_spouse:
        refs["family.spouse_id"] = p.spouse.key
    data["family"] = family
    return SynthResident(p.key, data, refs, newborn=p.newborn)


def _occupation(gen: Generator, p: Person, age: float) -> str | None:
    if age < 6:
        return "preschool"
    if age < 18:
        return "student"
    if age < 22 and gen.rng.random() < 0.4:
        return "student"
    community = p.hh.village.community
    if p.away:
        return gen.weighted(((0.55, "6"), (0.4, "4"), (0.05, "8")))
    if age >= 65:
        if community:
            return gen.weighted(((0.4, "retired"), (0.5, "unemployed"), (0.1, "5")))
        return gen.weighted(((0.6, "5"), (0.35, "unemployed"), (0.05, "retired")))
    if community:
        return gen.weighted(
            (
                (0.35, "4"),
                (0.15, "3"),
                (0.12, "2"),
                (0.12, "5"),
                (0.1, "6"),
                (0.03, "1"),
                (0.08 if p.sex == "2" else 0.0, "homemaker"),
                (0.05, "unemployed"),
            )
        )
    return gen.weighted(
        (
            (0.72, "5"),
            (0.08, "4"),
            (0.03, "2"),
            (0.02, "3"),
            (0.01, "1"),
            (0.04, "6"),
            (0.1 if p.sex == "2" else 0.0, "homemaker"),
        )
    )


def _past_history(gen: Generator, p: Person) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for icd, year in (("I10", p.htn), ("E11.9", p.dm)):
        if year is not None:
            out.append({"icd10": icd, "since": f"{year}-{gen.rng.randrange(1, 13):02d}-01"})
    if p.copd:
        out.append({"icd10": "J44.9"})
    if p.chd:
        out.append({"icd10": "I25.1"})
    if p.smd is not None:
        out.append({"icd10": p.smd[0], "since": f"{p.smd[2]}-01-01"})
    if p.tb_start is not None and p.tb_start < gen.start:
        out.append({"icd10": "A15.0", "since": gen.iso(p.tb_start)})
    for item in out:
        if "since" in item and item["since"] > gen.iso(gen.today):
            item["since"] = gen.iso(gen.today)
        if "since" in item and item["since"] < gen.iso(p.born):
            del item["since"]
    return out


def _emergency_contact(gen: Generator, p: Person, age: float) -> dict[str, Any] | None:
    rng = gen.rng
    if age < 18:
        parent = p.mother or p.father
        if parent is not None and parent.phone:
            return {
                "name": parent.name,
                "relation": "52" if parent.sex == "2" else "51",
                "phone": parent.phone,
            }
        return None
    if age >= 60:
        kids = [c for c in p.children if c.phone and c.age(gen.today) >= 18]
        if kids:
            c = kids[0]
            return {"name": c.name, "relation": "20" if c.sex == "1" else "30", "phone": c.phone}
        if rng.random() < 0.6:  # a child registered elsewhere, working in the city
            sex = "1" if rng.random() < 0.6 else "2"
            name = (p.surname if p.sex == "1" or sex == "1" else gen.surname()) + gen.given_name(
                sex, dt.date.fromordinal(p.born).year + 26
            )
            return {"name": name, "relation": "20" if sex == "1" else "30", "phone": gen.phone()}
    if p.spouse is not None and p.spouse.phone and p.spouse.phone != p.phone:
        return {
            "name": p.spouse.name,
            "relation": "11" if p.spouse.sex == "1" else "12",
            "phone": p.spouse.phone,
        }
    return None
