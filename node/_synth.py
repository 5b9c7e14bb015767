"""Filling a node with a synthetic township (``schemas.synthetic``) for demos, tests and benchmarks.

SYNTHETIC DATA ONLY. ``fill_queue`` puts some of them in today's desk queue.
Every item goes through ``Writer.register_resident`` or
``Writer.add_record``, exactly as a clerk's or doctor's save does, so each
record is validated against the store's calendar and gets its outbox entry.
The generator names earlier items by key; the loader swaps each key for the
id the store minted. Keys never cross households, so only the current
household's ids are kept: memory stays flat however large the township.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from itertools import islice
from typing import Any

from schemas import RecordInvalid, code_list
from schemas.synthetic import SynthResident, generate

from ._access import Role
from ._auth import Staff
from ._desk import store_clock
from ._desk_services import Desk
from ._store import NodeStore, StoreError

__all__ = ["fill", "fill_queue"]


def fill(
    store: NodeStore,
    *,
    residents: int,
    years: int = 3,
    seed: int = 1,
    today: dt.date | None = None,
    user: str = "synth",
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
    township: str | None = None,
) -> dict[str, int]:
    """Register ``residents`` synthetic residents and ``years`` of their care; return the counts written.

    Writes ``batch`` items per transaction. ``progress`` is called after each
    transaction with the number of the township's residents done so far
    (children born during the period are counted in the result, not there).
    ``today`` defaults to the store's own calendar and may not be later than it.
    """
    store_today = store._today()
    day = today or store_today
    if day > store_today:
        raise ValueError(
            f"today: {day} is after the node's today ({store_today}); its records would be refused"
        )
    if batch < 1:
        raise ValueError(f"batch: {batch} must be at least 1")
    items = generate(residents=residents, years=years, seed=seed, today=day, township=township)
    counts = {"residents": 0, "records": 0}
    ids: dict[str, str] = {}
    household = ""
    done = 0
    while chunk := list(islice(items, batch)):
        with store.transaction() as w:
            for item in chunk:
                prefix = item.key.split("/", 1)[0]
                if prefix != household:  # a new household: the last one's keys are never named again
                    ids.clear()
                    household = prefix
                data = _resolve(item.data, item.refs, ids)
                try:
                    if isinstance(item, SynthResident):
                        ids[item.key] = w.register_resident(data, user=user).envelope.id
                        counts["residents"] += 1
                        done += not item.newborn
                    else:
                        ids[item.key] = w.add_record(ids[item.resident_key], item.type, data, user=user).id
                        counts["records"] += 1
                except (RecordInvalid, StoreError) as exc:
                    what = "resident" if isinstance(item, SynthResident) else item.type
                    raise RuntimeError(f"the node refused synthetic {what} {item.key}: {exc}") from exc
        if progress is not None:
            progress(done)
    return counts


def _resolve(data: dict[str, Any], refs: dict[str, str], ids: dict[str, str]) -> dict[str, Any]:
    """``data`` with each ref path set to the id of the item it names (copied along the path only)."""
    if not refs:
        return data
    out = dict(data)
    for path, key in refs.items():
        parts = path.split(".")
        node: Any = out
        for i, part in enumerate(parts[:-1]):
            nxt = parts[i + 1]
            if isinstance(node, list):
                node[int(part)] = child = (
                    dict(node[int(part)]) if not nxt.isdigit() else list(node[int(part)])
                )
            else:
                existing = node.get(part)
                if existing is None:
                    existing = [] if nxt.isdigit() else {}
                node[part] = child = list(existing) if isinstance(existing, list) else dict(existing)
            node = child
        node[parts[-1]] = ids[key]
    return out


# -- today's queue ------------------------------------------------------------------------------

_QUEUE_TARGETS = (
    "registered",
    "waiting",
    "in_consultation",
    "awaiting_payment",
    "awaiting_dispensing",
    "exams_pending",
    "done",
    "cancelled",
)


def fill_queue(
    store: NodeStore,
    *,
    clinic: str,
    visits: int = 8,
    seed: int = 1,
    clock: Callable[[], dt.datetime] | None = None,
) -> list[str]:
    """Put ``visits`` synthetic residents in today's queue, at every step in turn; return their steps.

    Each visit repeats the resident's latest synthetic consultation (diagnoses,
    prescriptions, a lab test and its result), so nothing is invented here: the
    generator stays the only source. Every step goes through the desk
    (``Desk``), exactly as staff would record it.
    """
    rows = (
        store.db.reader()
        .execute(
            "SELECT DISTINCT e.resident_id FROM records e JOIN residents r ON r.id = e.resident_id "
            "WHERE e.type = 'encounter' AND e.is_current = 1 AND r.deceased_on IS NULL ORDER BY e.resident_id"
        )
        .fetchall()
    )
    wall = clock or store_clock(store)
    now = wall().replace(microsecond=0)
    queued = {s.resident_id for s in Desk(store, clinic=clinic, clock=wall).queue(now.date())}
    people = [r[0] for r in rows if r[0] not in queued]
    if len(people) < visits:
        raise ValueError(
            f"visits: the node holds {len(people)} resident(s) not yet in today's queue with a "
            "consultation to repeat; "
            "fill it first (rhip synth) or ask for fewer"
        )
    rng = random.Random(seed)
    chosen = rng.sample(people, visits)
    start = max(now - dt.timedelta(minutes=16 * visits), dt.datetime.combine(now.date(), dt.time(7, 30)))
    # Up to 9 steps a visit, spread between the start and now, so that every time stays on today.
    gap = max(now - start, dt.timedelta(minutes=1)) / (9 * visits)
    moments = iter(start + gap * i for i in range(9 * visits + 1))
    desk = Desk(store, clinic=clinic, clock=lambda: next(moments))
    clerk = Staff("synth", Role.CLERK, "挂号收费处")
    nurse = Staff("synth", Role.NURSE, "分诊护士")
    pharmacist = Staff("synth", Role.PHARMACIST, "药房")
    out = []
    for i, resident_id in enumerate(chosen):
        target = _QUEUE_TARGETS[i % len(_QUEUE_TARGETS)]
        out.append(
            _one_visit(desk, store, resident_id, target, clerk=clerk, nurse=nurse, pharmacist=pharmacist)
        )
    return out


def _template(
    store: NodeStore, resident_id: str
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any] | None]:
    """The resident's latest consultation: its encounter, prescriptions and lab report (if any)."""
    records = store.records_of(resident_id, types=["encounter", "prescription", "lab_report"])
    encounter = [e for e in records if e.type == "encounter"][-1]
    rx = [e.data for e in records if e.type == "prescription" and e.data.get("encounter_id") == encounter.id]
    lab = next(
        (e.data for e in records if e.type == "lab_report" and e.data.get("encounter_id") == encounter.id),
        None,
    )
    return encounter.data, rx, lab


def _one_visit(
    desk: Desk,
    store: NodeStore,
    resident_id: str,
    target: str,
    *,
    clerk: Staff,
    nurse: Staff,
    pharmacist: Staff,
) -> str:
    encounter, prescriptions, lab = _template(store, resident_id)
    departments = {c.zh: c.code for c in code_list("department").codes}
    department = departments.get(str(encounter.get("department")), "general")
    doctor = Staff("synth", Role.DOCTOR, str(encounter.get("doctor") or "门诊医生"))
    state = desk.checkin(user=clerk, department=department, resident_id=resident_id).state
    vid = state.visit_id
    if target == "cancelled":
        return str(desk.cancel(vid, user=clerk, reason="患者改日再来").state.step)
    if target == "registered":
        return str(state.step)
    desk.triage(vid, user=nurse, vitals=encounter.get("vitals") or None, workstation="分诊台")
    if target == "waiting":
        return str(desk.visit(vid).step)
    desk.call(vid, user=doctor, workstation="诊室1")
    if target == "in_consultation":
        return str(desk.visit(vid).step)
    services = {str(c.extra.get("panel_code")): c.code for c in code_list("service").codes}
    order = services.get(str(lab.get("panel_code"))) if lab else None
    if order is None and target == "exams_pending":
        order = "cbc"
    consult = {
        k: v
        for k, v in encounter.items()
        if k not in ("visit_time", "charges", "orders", "department", "doctor")
    }
    rx = [
        {k: v for k, v in p.items() if k not in ("prescribed_at", "encounter_id", "doctor")}
        for p in prescriptions
    ]
    result = desk.consult(
        vid,
        user=doctor,
        encounter=consult,
        prescriptions=rx,
        orders=[{"service": order}] if order else [],
        workstation="诊室1",
    )
    if target == "awaiting_payment":
        return str(result.state.step)
    paid = desk.pay(vid, user=clerk, method="wechat").state
    if target != "awaiting_dispensing":
        for prescription_id in dict.fromkeys(d.prescription_id for d in paid.drugs if d.to_dispense):
            desk.dispense(vid, user=pharmacist, prescription_id=prescription_id)
    state = desk.visit(vid)
    for o in state.orders:
        if target == "done" and lab is not None:
            desk.collect(o.order_id, user=nurse, workstation="检验科")
            report = {
                k: v for k, v in lab.items() if k not in ("reported_at", "collected_at", "encounter_id")
            }
            desk.report_result(o.order_id, user=nurse, type_="lab_report", data=report)
    if target == "done":
        return str(desk.finish(vid, user=clerk).state.step)
    return str(desk.visit(vid).step)
