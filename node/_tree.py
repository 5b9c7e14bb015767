"""The resident's health file tree: the lifelong record, grouped as in the national basic data set.

The tree starts before birth: for a child whose birth (or delivery) record names
the pregnancy, the mother's pregnancy registration, prenatal visits and
delivery appear under key populations as "prenatal (mother)". It ends with the
death record. Within a group records run in time order; only current versions
are shown (with a count of versions), entered-in-error ones only on request.

Records written at other clinics (pulled from the hub: the same person's
records linked through the master index, or a referred resident's) are
``shared``: read-only here, each with the ``source`` clinic (code and name,
from the hub's directory) it came from. The tree names the person's other
registrations (``links``) and master person.
"""

from __future__ import annotations

from typing import Any

import schemas
from schemas import Category, RecordEnvelope, Status

from ._remote import clinic_directory
from ._rows import RECORD_COLUMNS, NotFound, envelope_of
from ._store import NodeStore

__all__ = ["CATEGORY_TITLES", "MATERNAL_TYPES", "file_tree", "person_links", "shared_file_tree", "source_of"]

CATEGORY_TITLES: dict[Category, tuple[str, str]] = {
    Category.PERSONAL: ("个人基本信息", "Personal basic information"),
    Category.EXAMINATION: ("健康体检", "Health examinations"),
    Category.KEY_POPULATION: ("重点人群健康管理", "Key-population management"),
    Category.MEDICAL_SERVICE: ("医疗服务", "Medical services"),
    Category.LAB_IMAGING: ("检验检查报告", "Lab and imaging reports"),
    Category.IMMUNIZATION: ("预防接种", "Immunizations"),
    Category.REFERRAL: ("转诊与会诊", "Referrals and consultations"),
    Category.BIRTH_DEATH: ("出生与死亡", "Birth and death"),
}
MATERNAL_TYPES = ["pregnancy_registration", "prenatal_visit", "delivery", "postpartum_visit"]
PRENATAL_GROUP = "prenatal_mother"


def source_of(node_id: str, directory: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Where a shared record came from: the authoring node and, if the hub named it, its clinic."""
    known = directory.get(node_id, {})
    return {"node_id": node_id, "clinic": known.get("clinic"), "name": known.get("name")}


def _record_json(
    env: RecordEnvelope,
    node_id: str,
    versions: int,
    via: str | None = None,
    directory: dict[str, dict[str, str]] | None = None,
) -> dict[str, Any]:
    rt = schemas.record_type(env.type)
    out: dict[str, Any] = {
        "id": env.id,
        "fact_id": env.fact_id,
        "type": env.type,
        "title_zh": rt.title_zh,
        "title_en": rt.title_en,
        "effective": env.effective,
        "status": str(env.status),
        "author": env.author,
        "shared": env.author != node_id,
        "recorded_by": env.recorded_by,
        "v": env.v,
        "versions": versions,
        "data": env.data,
    }
    if env.reason:
        out["reason"] = env.reason
    if via:
        out["via"] = via
    if out["shared"]:
        out["read_only"] = True
        out["source"] = source_of(env.author, directory or {})
    return out


def person_links(store: NodeStore, resident_id: str) -> dict[str, Any]:
    """The resident's master person and its registrations at other clinics, as the hub linked them."""
    rows = (
        store.db.reader()
        .execute(
            "SELECT master_id, remote_resident_id, remote_node FROM links WHERE resident_id = ? "
            "ORDER BY remote_resident_id",
            (resident_id,),
        )
        .fetchall()
    )
    directory = clinic_directory(store.db.reader())
    return {
        "master_id": next((r[0] for r in rows if r[0]), None),
        "links": [
            {"resident_id": remote, **source_of(node, directory)} if node else {"resident_id": remote}
            for _, remote, node in rows
        ],
    }


def _version_counts(store: NodeStore, fact_ids: list[str]) -> dict[str, int]:
    if not fact_ids:
        return {}
    counts: dict[str, int] = {}
    conn = store.db.reader()
    for i in range(0, len(fact_ids), 500):
        chunk = fact_ids[i : i + 500]
        for fact, n in conn.execute(
            f"SELECT fact_id, count(*) FROM records WHERE fact_id IN ({','.join('?' * len(chunk))}) "
            "GROUP BY fact_id",
            chunk,
        ):
            counts[fact] = n
    return counts


def prenatal_records(
    store: NodeStore, resident: dict[str, Any], readable: frozenset[str]
) -> list[RecordEnvelope]:
    """The mother's records of the pregnancy that produced this resident.

    The pregnancy is named by the child's birth record (``pregnancy_id``) or by
    a delivery record of the mother that lists the child among its newborns.
    """
    types = [t for t in MATERNAL_TYPES if t in readable]
    if not types:
        return []
    resident_id = resident["id"]
    births = store.records_of(resident_id, types=["birth"])
    pregnancy_ids = {b.data["pregnancy_id"] for b in births if b.data.get("pregnancy_id")}
    mother_ids = {b.data["mother_id"] for b in births if b.data.get("mother_id")}
    family_mother = (resident.get("family") or {}).get("mother_id")
    if family_mother:
        mother_ids.add(family_mother)
    out: list[RecordEnvelope] = []
    for mother_id in sorted(mother_ids):
        maternal = store.records_of(mother_id, types=MATERNAL_TYPES)
        ids = set(pregnancy_ids)
        for rec in maternal:
            if rec.type == "delivery" and any(
                n.get("child_resident_id") == resident_id for n in rec.data.get("newborns", [])
            ):
                ids.add(rec.data.get("pregnancy_id") or rec.fact_id)
        out.extend(
            r for r in maternal if r.type in types and (r.fact_id in ids or r.data.get("pregnancy_id") in ids)
        )
    return sorted(out, key=lambda e: (e.effective, e.hlc))


def file_tree(
    store: NodeStore,
    resident_id: str,
    *,
    readable: frozenset[str],
    include_entered_in_error: bool = False,
) -> dict[str, Any]:
    """The lifelong record of one resident, restricted to the record types ``readable``."""
    return _tree(store, resident_id, store.resident(resident_id), readable, include_entered_in_error)


def shared_file_tree(
    store: NodeStore, resident_id: str, *, readable: frozenset[str], include_entered_in_error: bool = False
) -> dict[str, Any]:
    """The shared record of a resident registered at another clinic (one referred here), read-only:
    its demographics are those of its newest registration record this node received."""
    row = (
        store.db.reader()
        .execute(
            f"SELECT {RECORD_COLUMNS} FROM records WHERE resident_id = ? AND type = 'resident' "
            "AND author != ? AND is_current = 1 ORDER BY hlc DESC, id DESC LIMIT 1",
            (resident_id, store.node_id),
        )
        .fetchone()
    )
    if row is None:
        raise NotFound(f"this node holds no shared record of resident {resident_id}")
    env = envelope_of(row)
    resident = {"id": resident_id, **schemas.validate("resident", env.data, version=env.v)}
    tree = _tree(store, resident_id, resident, readable, include_entered_in_error)
    tree["shared"] = True
    tree["source"] = source_of(env.author, clinic_directory(store.db.reader()))
    return tree


def _tree(
    store: NodeStore,
    resident_id: str,
    resident: dict[str, Any],
    readable: frozenset[str],
    include_entered_in_error: bool,
) -> dict[str, Any]:
    directory = clinic_directory(store.db.reader())
    records = [
        r
        for r in store.records_of(resident_id)
        if r.type in readable and (include_entered_in_error or r.status is not Status.ENTERED_IN_ERROR)
    ]
    prenatal = [p for p in prenatal_records(store, resident, readable) if p.resident_id != resident_id]
    counts = _version_counts(store, [r.fact_id for r in records + prenatal])
    groups: dict[Category, dict[str, list[dict[str, Any]]]] = {c: {} for c in Category}
    if prenatal:
        groups[Category.KEY_POPULATION][PRENATAL_GROUP] = [
            _record_json(p, store.node_id, counts.get(p.fact_id, 1), via="mother", directory=directory)
            for p in prenatal
        ]
    for env in records:
        rt = schemas.record_type(env.type)
        groups[rt.category].setdefault(rt.subcategory or env.type, []).append(
            _record_json(env, store.node_id, counts.get(env.fact_id, 1), directory=directory)
        )
    categories = []
    for cat in Category:
        zh, en = CATEGORY_TITLES[cat]
        categories.append(
            {
                "category": cat.value,
                "title_zh": zh,
                "title_en": en,
                "groups": [{"subcategory": sub, "records": recs} for sub, recs in groups[cat].items()],
                "count": sum(len(recs) for recs in groups[cat].values()),
            }
        )
    return {
        "resident": resident,
        **person_links(store, resident_id),
        "categories": categories,
        "mother_records_read": sorted({p.resident_id for p in prenatal}),
        "allergies": [
            r["data"]
            for r in groups[Category.PERSONAL].get("allergy", [])
            if r["data"].get("status") != "resolved"
        ],
    }
