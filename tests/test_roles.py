"""Every cell of the role matrix, through the real app. The expected table is written out here,
independently of node._access, so a change to the matrix must be made (and reviewed) twice."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import TestClient

import schemas
from node import Desk, NodeStore, Role, Staff

from .conftest import auth, encounter_data, prescription_data, resident_data

ROLES = ["clerk", "doctor", "nurse", "pharmacist", "public-health", "admin"]


def only(*roles: str) -> dict[str, bool]:
    """A row of the matrix: the roles allowed, every other refused."""
    return {role: role in roles for role in ROLES}


def immunization() -> dict[str, Any]:
    return {
        "given_at": "2026-04-01T09:00:00",
        "vaccine": schemas.code_list("vaccine").codes[0].code,
        "dose_number": 1,
        "lot_number": "B202603011",
    }


def mental_followup() -> dict[str, Any]:
    return {
        "followup_date": "2026-04-02",
        "method": schemas.code_list("followup_method").codes[0].code,
        "risk_level": 0,
        "adherence": schemas.code_list("adherence").codes[0].code,
        "classification": schemas.code_list("mental_classification").codes[0].code,
    }


Fixture = dict[str, str]  # ids made before each cell runs
Call = Callable[[TestClient[Any], dict[str, str], Fixture], Any]

CELLS: dict[str, tuple[Call, dict[str, bool]]] = {
    "search": (
        lambda c, h, f: c.get("/api/v1/residents", params={"q": "zs"}, headers=h),
        only("clerk", "doctor", "nurse", "pharmacist", "public-health"),
    ),
    "register": (
        lambda c, h, f: c.post("/api/v1/residents", json=resident_data(), headers=h),
        only("clerk", "doctor", "public-health"),
    ),
    "read demographics": (
        lambda c, h, f: c.get(f"/api/v1/residents/{f['resident']}", headers=h),
        only("clerk", "doctor", "nurse", "pharmacist", "public-health"),
    ),
    "update demographics": (
        lambda c, h, f: c.patch(
            f"/api/v1/residents/{f['resident']}", json={"phone": "13700001111"}, headers=h
        ),
        only("clerk", "doctor", "nurse", "public-health"),
    ),
    "read file tree": (
        lambda c, h, f: c.get(f"/api/v1/residents/{f['resident']}/file-tree", headers=h),
        only("clerk", "doctor", "nurse", "pharmacist", "public-health"),
    ),
    "record encounter": (
        lambda c, h, f: c.post(
            f"/api/v1/residents/{f['resident']}/records",
            json={"type": "encounter", "data": encounter_data()},
            headers=h,
        ),
        only("doctor"),
    ),
    "record visit with prescription": (
        lambda c, h, f: c.post(
            f"/api/v1/residents/{f['resident']}/visits",
            json={"encounter": encounter_data(), "prescriptions": [prescription_data()]},
            headers=h,
        ),
        only("doctor"),
    ),
    "record immunization": (
        lambda c, h, f: c.post(
            f"/api/v1/residents/{f['resident']}/records",
            json={"type": "immunization", "data": immunization()},
            headers=h,
        ),
        only("doctor", "nurse", "public-health"),
    ),
    "record mental follow-up": (
        lambda c, h, f: c.post(
            f"/api/v1/residents/{f['resident']}/records",
            json={"type": "mental_followup", "data": mental_followup()},
            headers=h,
        ),
        only("doctor", "public-health"),
    ),
    "read encounter": (
        lambda c, h, f: c.get(f"/api/v1/records/{f['encounter']}", headers=h),
        only("doctor", "nurse", "pharmacist"),
    ),
    "read prescription": (
        lambda c, h, f: c.get(f"/api/v1/records/{f['prescription']}", headers=h),
        only("doctor", "nurse", "pharmacist"),
    ),
    "read mental follow-up": (
        lambda c, h, f: c.get(f"/api/v1/records/{f['mental']}", headers=h),
        only("doctor", "nurse", "public-health"),
    ),
    "correct encounter": (
        lambda c, h, f: c.post(
            f"/api/v1/records/{f['encounter']}/corrections",
            json={"data": encounter_data(icd10="J20.9"), "reason": "code"},
            headers=h,
        ),
        only("doctor"),
    ),
    "list users": (
        lambda c, h, f: c.get("/api/v1/users", headers=h),
        only("admin"),
    ),
    "create user": (
        lambda c, h, f: c.post(
            "/api/v1/users", json={"user": "newnurse", "role": "nurse", "password": "12345678abc"}, headers=h
        ),
        only("admin"),
    ),
    "read audit log": (
        lambda c, h, f: c.get("/api/v1/audit", headers=h),
        only("admin"),
    ),
    "search codes": (
        lambda c, h, f: c.get("/api/v1/codes/icd10", params={"q": "I10"}, headers=h),
        only("clerk", "doctor", "nurse", "pharmacist", "public-health", "admin"),
    ),
    # the desk workflow of a visit: each step belongs to one role (node._access rule 4)
    "desk queue": (
        lambda c, h, f: c.get("/api/v1/desk/queue", headers=h),
        only("clerk", "doctor", "nurse", "pharmacist"),
    ),
    "desk read visit": (
        lambda c, h, f: c.get(f"/api/v1/desk/visits/{f['open_visit']}", headers=h),
        only("clerk", "doctor", "nurse", "pharmacist"),
    ),
    "desk check-in": (
        lambda c, h, f: c.post(
            "/api/v1/desk/checkin", json={"resident_id": f["resident"], "department": "general"}, headers=h
        ),
        only("clerk"),
    ),
    "desk triage": (
        lambda c, h, f: c.post(
            f"/api/v1/desk/visits/{f['open_visit']}/triage", json={"vitals": {"pulse": 80}}, headers=h
        ),
        only("nurse"),
    ),
    "desk call in": (
        lambda c, h, f: c.post(f"/api/v1/desk/visits/{f['open_visit']}/call", json={}, headers=h),
        only("doctor"),
    ),
    "desk consultation": (
        lambda c, h, f: c.post(
            f"/api/v1/desk/visits/{f['open_visit']}/consultation",
            json={"encounter": desk_encounter()},
            headers=h,
        ),
        only("doctor"),
    ),
    "desk bill": (
        lambda c, h, f: c.get(f"/api/v1/desk/visits/{f['due_visit']}/bill", headers=h),
        only("clerk"),
    ),
    "desk payment": (
        lambda c, h, f: c.post(
            f"/api/v1/desk/visits/{f['due_visit']}/payments", json={"method": "cash"}, headers=h
        ),
        only("clerk"),
    ),
    "desk refund": (
        lambda c, h, f: c.post(
            f"/api/v1/desk/payments/{f['payment']}/refund",
            json={"lines": [{"source": "service", "ref": f["order"]}], "reason": "未做"},
            headers=h,
        ),
        only("clerk"),
    ),
    "desk dispense": (
        lambda c, h, f: c.post(
            f"/api/v1/desk/visits/{f['paid_visit']}/dispense",
            json={"prescription_id": f["desk_prescription"]},
            headers=h,
        ),
        only("pharmacist"),
    ),
    "desk exam worklist": (
        lambda c, h, f: c.get("/api/v1/desk/worklist/exams", headers=h),
        only("nurse"),
    ),
    "desk collect specimen": (
        lambda c, h, f: c.post(f"/api/v1/desk/orders/{f['order']}/collect", json={}, headers=h),
        only("nurse"),
    ),
    "desk exam result": (
        lambda c, h, f: c.post(
            f"/api/v1/desk/orders/{f['order']}/result",
            json={"type": "lab_report", "data": {"items": [{"name": "白细胞", "value": 6.0}]}},
            headers=h,
        ),
        only("nurse"),
    ),
    "desk finish visit": (
        lambda c, h, f: c.post(f"/api/v1/desk/visits/{f['paid_visit']}/finish", json={}, headers=h),
        only("clerk", "doctor"),
    ),
    "desk cancel visit": (
        lambda c, h, f: c.post(
            f"/api/v1/desk/visits/{f['open_visit']}/cancel", json={"reason": "改日再来"}, headers=h
        ),
        only("clerk"),
    ),
    "list referrals": (
        lambda c, h, f: c.get("/api/v1/referrals", params={"direction": "out"}, headers=h),
        only("doctor", "nurse"),
    ),
    "refer out": (
        lambda c, h, f: c.post(
            "/api/v1/referrals",
            json={"resident_id": f["resident"], "to_clinic": "CH511321", "reason": "需进一步检查"},
            headers=h,
        ),
        only("doctor"),
    ),
    "list consultations": (
        lambda c, h, f: c.get("/api/v1/consultations", headers=h),
        only("doctor", "nurse"),
    ),
    "request consultation": (
        lambda c, h, f: c.post(
            "/api/v1/consultations",
            json={"resident_id": f["resident"], "consulting_clinic": "CH511321", "question": "请会诊"},
            headers=h,
        ),
        only("doctor"),
    ),
}


def desk_encounter() -> dict[str, Any]:
    return {k: v for k, v in encounter_data().items() if k not in ("visit_time", "charges")}


@pytest.fixture
def made(store: NodeStore) -> Fixture:
    rid = store.register_resident(resident_data("张三"), user="setup").envelope.id
    with store.transaction() as w:
        enc = w.add_record(rid, "encounter", encounter_data(), user="setup")
        rx = w.add_record(rid, "prescription", {**prescription_data(), "encounter_id": enc.id}, user="setup")
        mental = w.add_record(rid, "mental_followup", mental_followup(), user="setup")
    # Desk visits of other residents: one just registered, one consulted and due, one consulted and paid.
    desk = Desk(store, clinic="511321100")
    clerk, doctor = Staff("setup", Role.CLERK), Staff("setup", Role.DOCTOR)
    visits = []
    for name in ("李四", "王五", "赵六"):
        other = store.register_resident(resident_data(name), user="setup").envelope.id
        visits.append(desk.checkin(user=clerk, department="general", resident_id=other).state.visit_id)
    for vid in visits[1:]:
        desk.consult(
            vid,
            user=doctor,
            encounter=desk_encounter(),
            prescriptions=[prescription_data()],
            orders=[{"service": "cbc"}],
        )
    paid = desk.pay(visits[2], user=clerk, method="cash")
    return {
        "resident": rid,
        "encounter": enc.id,
        "prescription": rx.id,
        "mental": mental.id,
        "open_visit": visits[0],
        "due_visit": visits[1],
        "paid_visit": visits[2],
        "payment": paid.extra["payment"]["payment_id"],
        "desk_prescription": paid.state.drugs[0].prescription_id,
        "order": paid.state.orders[0].order_id,
    }


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("cell", list(CELLS))
def test_role_matrix(
    client: TestClient[Any],
    staff_tokens: dict[str, str],
    made: Fixture,
    store: NodeStore,
    role: str,
    cell: str,
) -> None:
    call, expected = CELLS[cell]
    before = store.counts()["records"]
    r = call(client, auth(staff_tokens[role]), made)
    if expected[role]:
        assert r.status_code in (200, 201), f"{role} should be able to {cell}: {r.status_code} {r.text}"
    else:
        assert r.status_code == 403, f"{role} must not {cell}: got {r.status_code}"
        assert store.counts()["records"] == before, "a refused request stored something"


def test_file_tree_shows_each_role_only_its_types(
    client: TestClient[Any], staff_tokens: dict[str, str], made: Fixture
) -> None:
    def types(role: str) -> set[str]:
        tree = client.get(
            f"/api/v1/residents/{made['resident']}/file-tree", headers=auth(staff_tokens[role])
        ).json()
        return {rec["type"] for c in tree["categories"] for g in c["groups"] for rec in g["records"]}

    assert types("doctor") == {"encounter", "prescription", "mental_followup"}
    assert types("clerk") == set()
    assert types("pharmacist") == {"encounter", "prescription"}
    assert types("public-health") == {"mental_followup"}
