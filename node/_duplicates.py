"""Likely duplicates at the registration desk: the same person typed in twice.

Offline, the node cannot ask the master index; it warns the clerk from what it
holds. Candidates come from three blocks (birth date, birth date with day and
month swapped, phone); each is scored on name, pinyin, birth date, sex,
village and phone. Different names with the same birth date and phone (twins,
a family sharing one phone) score low on purpose.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from . import _search

__all__ = ["FLAG_SCORE", "DuplicateCandidate", "likely_duplicates"]

FLAG_SCORE = 0.75


@dataclass(frozen=True)
class DuplicateCandidate:
    resident_id: str
    name: str
    birth_date: str
    score: float
    reasons: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "resident_id": self.resident_id,
            "name": self.name,
            "birth_date": self.birth_date,
            "score": round(self.score, 2),
            "reasons": list(self.reasons),
        }


def likely_duplicates(conn: sqlite3.Connection, body: dict[str, Any]) -> list[DuplicateCandidate]:
    """Residents this registration probably duplicates: same person typed twice at the desk.

    Candidates come from three blocks (birth date, day/month-swapped birth
    date, phone); each is scored on name, pinyin, birth date, sex, village
    and phone. Different names with the same birth date and phone (twins)
    score low on purpose.
    """
    born = body["birth_date"]
    y, m, d = born.split("-")
    blocks: list[tuple[str, tuple[Any, ...]]] = [("birth_date = ?", (born,))]
    if m != d and int(d) <= 12:
        blocks.append(("birth_date = ?", (f"{y}-{d}-{m}",)))
    if body.get("phone"):
        blocks.append(("phone = ?", (body["phone"],)))
    seen: dict[str, tuple[Any, ...]] = {}
    for where, args in blocks:
        for row in conn.execute(
            f"SELECT id, name, birth_date, sex, phone, division_code FROM residents WHERE {where} LIMIT 500",
            args,
        ):
            seen[row[0]] = row
    if not seen:
        return []
    my_keys = {k for k, kind in _search.search_keys(body) if kind == "pinyin"}
    out = []
    for rid, name, birth, sex, phone, division in seen.values():
        reasons: list[str] = []
        score = 0.0
        if name == body["name"]:
            score += 0.5
            reasons.append("same name")
        elif my_keys & {k for k, kind in _search.search_keys({"name": name}) if kind == "pinyin"}:
            score += 0.35
            reasons.append("same name in pinyin")
        if birth == born:
            score += 0.3
            reasons.append("same birth date")
        elif birth.split("-")[0] == y and {birth[5:7], birth[8:10]} == {m, d}:
            score += 0.2
            reasons.append("birth date with day and month swapped")
        if sex == body["sex"]:
            score += 0.05
        else:
            score -= 0.3
        if phone and phone == body.get("phone"):
            score += 0.15
            reasons.append("same phone")
        if division and division == (body.get("address") or {}).get("division_code"):
            score += 0.1
            reasons.append("same village")
        if score >= FLAG_SCORE:
            out.append(DuplicateCandidate(rid, name, birth, min(score, 1.0), tuple(reasons)))
    out.sort(key=lambda c: -c.score)
    return out[:5]
