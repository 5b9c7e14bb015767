"""The desk workflow of a visit through the real app: card, queue, consultation, payment, pharmacy, lab.

A real node home on disk, the real Litestar app, bearer tokens of every role, a
health card signed by a hub key the node trusts (read through the virtual
card's APDU interface), and a clock the test moves. SYNTHETIC DATA ONLY.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

import cardreader as cr
import schemas
from node import NodeHome, NodeStore, Role, audit_entries, create_app, init_home, issue_token
from schemas import RecordEnvelope

from .cardkit import Issuer
from .conftest import encounter_data, id_number, resident_data

DAY = dt.date(2026, 11, 25)
ROLES = [r.value for r in Role]


class Clock:
    """The node's local time, moved by the test (never the wall clock)."""

    def __init__(self, start: dt.datetime = dt.datetime(2026, 11, 25, 8, 0)) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, minutes: int) -> None:
        self.now += dt.timedelta(minutes=minutes)

    def today(self) -> dt.date:
        return self.now.date()

    def wall_ms(self) -> int:
        return int(self.now.timestamp() * 1000)


@dataclass
class World:
    home: NodeHome
    store: NodeStore
    clock: Clock
    client: TestClient[Any]
    issuer: Issuer
    headers: dict[str, dict[str, str]]
    fuzz: tuple[str, str, str] | None = None  # a paid visit, its payment and order, made once per world

    def post(self, role: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.client.post(f"/api/v1/desk{path}", json=body or {}, headers=self.headers[role])

    def get(self, role: str, path: str, **params: Any) -> Any:
        return self.client.get(f"/api/v1/desk{path}", params=params, headers=self.headers[role])

    def ok(self, role: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = self.post(role, path, body)
        assert r.status_code in (200, 201), r.text
        out: dict[str, Any] = r.json()
        return out


def make_store(home: NodeHome, clock: Clock) -> NodeStore:
    return NodeStore(home.database(), node_id=home.node_id, wall_ms=clock.wall_ms, today=clock.today)


def add_staff(store: NodeStore) -> dict[str, dict[str, str]]:
    with store.db.write() as conn:
        for role in ROLES:
            conn.execute(
                "INSERT INTO users (name, role, password_hash, display_name, created_at) "
                "VALUES (?, ?, 'unused', ?, '2026-01-01')",
                (role, role, f"{role}-name"),
            )
    return {role: {"Authorization": f"Bearer {issue_token(store.db, role, kind='bearer')}"} for role in ROLES}


@pytest.fixture
def world(tmp_path: Any) -> Iterator[World]:
    home = init_home(tmp_path / "clinic", clinic="511321100", name="南隆镇卫生院")
    clock = Clock()
    store = make_store(home, clock)
    headers = add_staff(store)
    issuer = Issuer()
    app = create_app(
        store.db, store, clinic=home.clinic, name=home.name, card_trust=issuer.trust, clock=clock
    )
    with TestClient(app=app) as client:
        yield World(home, store, clock, client, issuer, headers)
    store.db.close()


def card_of(
    issuer: Issuer,
    *,
    name: str = "王秀英",
    sex: str = "2",
    birth: str = "1958-03-09",
    number: str = "5113210000000042",
    insurance: str | None = "R5113210042",
    seq: int = 7,
) -> tuple[cr.CardContent, cr.CardImage]:
    born = dt.date.fromisoformat(birth)
    content = cr.CardContent(
        cr.Issuer(number, "511321", "南部县卫生健康局", dt.date(2026, 1, 5), dt.date(2036, 1, 5)),
        cr.Holder(name, sex, born, id_number(birth, sex, seq)),
        cr.Emergency(
            cr.BloodGroup("A", "positive"),
            (cr.Allergy("青霉素", "全身皮疹", "severe"),),
            ("hypertension",),
            (cr.Contact("李强", "20", "13900001111"),),
        ),
        insurance,
        (),
    )
    return content, issuer.image(content)


def files_of(image: cr.CardImage) -> dict[str, Any]:
    return cr.read_files(cr.Channel(cr.VirtualCard(image).process)).as_json()


def price(list_name: str, code: str) -> int:
    """A catalogue price in fen, read from the shipped data (not through the code under test)."""
    entry = schemas.code_list(list_name).get(code)
    assert entry is not None
    yuan, _, fen = str(entry.extra["price"]).partition(".")
    return int(yuan) * 100 + int(fen.ljust(2, "0"))


def rx(*items: tuple[str, int], days: int = 3) -> dict[str, Any]:
    return {
        "items": [
            {
                "drug": drug,
                "dose": "1",
                "dose_unit": "tab",
                "route": "po",
                "frequency": "tid",
                "days": days,
                "quantity": quantity,
            }
            for drug, quantity in items
        ]
    }


def consultation(**extra: Any) -> dict[str, Any]:
    encounter = {k: v for k, v in encounter_data().items() if k not in ("visit_time", "charges")}
    return {"encounter": encounter, **extra}


def register(world: World, **kw: Any) -> str:
    reg = world.store.register_resident(resident_data(**kw), user="setup")
    return reg.envelope.id


def checked_in(world: World, rid: str, department: str = "general", **extra: Any) -> dict[str, Any]:
    return world.ok("clerk", "/checkin", {"resident_id": rid, "department": department, **extra})["visit"]


def consulted(world: World, rid: str, **consult: Any) -> dict[str, Any]:
    visit = checked_in(world, rid)
    body = consultation(**consult)
    return world.ok("doctor", f"/visits/{visit['visit_id']}/consultation", body)["visit"]


def outbox_records(store: NodeStore) -> list[RecordEnvelope]:
    ids = [r[0] for r in store.db.reader().execute("SELECT record_id FROM outbox ORDER BY seq")]
    return [store.record(i) for i in ids]


# --- the whole visit -------------------------------------------------------------------------------


def test_a_whole_visit_from_the_card_to_the_card(world: World) -> None:
    content, image = card_of(world.issuer)
    files = files_of(image)
    # The desk reads the card of someone this node has never seen: the card's own data identifies them.
    seen = world.client.post(
        "/api/v1/card/read", json={"card": files}, headers=world.headers["doctor"]
    ).json()
    assert seen["source"] == "card" and seen["resident"] is None
    assert seen["card"]["emergency"]["allergies"][0]["substance"] == "青霉素"

    # Registration: the holder becomes a provisional resident and takes number 1 of the general queue.
    r = world.post("clerk", "/checkin", {"card": files, "department": "general"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["holder"]["created"] and body["holder"]["provisional"]
    assert "emergency" not in body["card"] and body["withheld"] == ["emergency", "visits"], (
        "clerks see no care data"
    )
    visit = body["visit"]
    vid, rid = visit["visit_id"], visit["resident_id"]
    assert (visit["queue_number"], visit["step"]) == (1, "registered")
    assert world.store.record(vid).data["source"] == "card"
    resident = world.store.resident(rid)
    assert (
        resident["name"],
        resident["id_number"],
        resident["card_number"],
        resident["insurance_number"],
    ) == (
        "王秀英",
        content.holder.id_number,
        "5113210000000042",
        "R5113210042",
    )
    assert visit["scheme"] == "urban_rural_resident" and visit["card_number"] == "5113210000000042"

    world.clock.advance(7)
    world.ok(
        "nurse",
        f"/visits/{vid}/triage",
        {"vitals": {"temperature_c": 38.3, "pulse": 96}, "workstation": "分诊台"},
    )
    queue = world.get("doctor", "/queue", step="waiting").json()["visits"]
    assert [(v["visit_id"], v["waiting_minutes"]) for v in queue] == [(vid, 7)]
    world.clock.advance(18)
    called = world.ok("doctor", f"/visits/{vid}/call", {"workstation": "诊室2"})["visit"]
    assert called["step"] == "in_consultation"
    world.clock.advance(10)
    assert world.get("clerk", "/queue").json()["visits"][0]["waiting_minutes"] == 25, (
        "the wait ends when called"
    )

    # Consultation: the encounter, a prescription of two drugs, a blood count and an infusion fee.
    done = world.ok(
        "doctor",
        f"/visits/{vid}/consultation",
        consultation(
            prescriptions=[rx(("amoxicillin_250mg_cap", 2), ("paracetamol_500mg_tab", 1))],
            orders=[{"service": "cbc", "urgency": "urgent"}],
            fees=[{"service": "iv_infusion", "quantity": 2}],
        ),
    )
    state = done["visit"]
    assert state["step"] == "awaiting_payment" and state["encounter_id"]
    encounter = world.store.record(state["encounter_id"])
    assert encounter.data["department"] == "全科" and encounter.data["doctor"] == "doctor-name"
    assert encounter.data["orders"] == [{"kind": "lab", "item": "血常规"}]
    total = (
        price("service", "general_consultation")
        + 2 * price("drug", "amoxicillin_250mg_cap")
        + price("drug", "paracetamol_500mg_tab")
        + price("service", "cbc")
        + 2 * price("service", "iv_infusion")
    )
    assert state["due_fen"] == total

    # Payment: urban-rural resident insurance pays 55 % of the covered total (no deductible, cap 400 yuan).
    bill = world.get("clerk", f"/visits/{vid}/bill").json()
    insurance = (total * 550 + 500) // 1000
    assert (bill["total_fen"], bill["insurance_fen"], bill["self_fen"]) == (
        total,
        insurance,
        total - insurance,
    )
    paid = world.ok("clerk", f"/visits/{vid}/payments", {"method": "wechat", "expected_total_fen": total})
    assert paid["payment"]["receipt_number"] == "511321100-20261125-00001"
    assert paid["visit"]["step"] == "awaiting_dispensing" and paid["visit"]["pending"] == [
        "dispensing",
        "exams",
    ]

    # The pharmacy hands over part, then the rest; each pack once.
    rx_id = paid["visit"]["drugs"][0]["prescription_id"]
    part = world.ok(
        "pharmacist",
        f"/visits/{vid}/dispense",
        {"prescription_id": rx_id, "items": [{"index": 0, "quantity": 1}]},
    )
    assert [d["to_dispense"] for d in part["visit"]["drugs"]] == [1, 1]
    rest = world.ok("pharmacist", f"/visits/{vid}/dispense", {"prescription_id": rx_id})
    assert rest["visit"]["step"] == "exams_pending"
    assert [d["dispensed"] for d in rest["visit"]["drugs"]] == [2, 1]

    # The lab: the order is on the worklist, the specimen is taken, the report answers the order.
    worklist = world.get("nurse", "/worklist/exams", kind="lab").json()["orders"]
    assert [(o["visit_id"], o["service"], o["urgency"]) for o in worklist] == [(vid, "cbc", "urgent")]
    order_id = worklist[0]["order_id"]
    world.ok("nurse", f"/orders/{order_id}/collect", {"workstation": "检验科"})
    report = {
        "items": [
            {
                "code": "6690-2",
                "name": "白细胞计数",
                "value": 13.2,
                "unit": "10^9/L",
                "reference_low": 3.5,
                "reference_high": 9.5,
            }
        ]
    }
    reported = world.ok("nurse", f"/orders/{order_id}/result", {"type": "lab_report", "data": report})
    assert reported["visit"]["step"] == "paid" and reported["visit"]["orders"][0]["status"] == "reported"
    lab = world.store.record(reported["records"][0]["id"])
    assert lab.type == "lab_report" and lab.data["encounter_id"] == state["encounter_id"]
    assert (lab.data["panel_code"], lab.data["specimen"], lab.data["items"][0]["abnormal"]) == (
        "CBC",
        "blood",
        "H",
    )
    assert world.get("nurse", "/worklist/exams").json()["orders"] == []

    # The end of the visit, card present: the visit goes into the card's ring.
    fin = world.ok("clerk", f"/visits/{vid}/finish", {"card": files})
    assert fin["visit"]["step"] == "done"
    ch = cr.Channel(cr.VirtualCard(image).process)
    ch.exchange(cr.Command(0x00, 0xA4, 0x04, 0x00, cr.AID, 256))
    ring = bytes.fromhex(fin["card_writes"]["visit"])
    assert ch.exchange(cr.Command(0x00, 0xE2, 0x00, cr.EF.VISITS.sfi << 3, ring)).ok
    after = cr.open_card(
        cr.read_files(cr.Channel(cr.VirtualCard(image).process)), trust=world.issuer.trust, today=DAY
    )
    assert [(v.on, v.clinic, v.diagnoses) for v in after.content.visits] == [(DAY, "511321100", ("J06.9",))]
    assert set(after.content.visits[0].prescriptions) == {"amoxicillin_250mg_cap", "paracetamol_500mg_tab"}

    # Everything the visit wrote waits in the outbox; the outbox alone rebuilds the visit, as the hub would.
    shipped = outbox_records(world.store)
    kinds = [e.type for e in shipped]
    for t in (
        "resident",
        "card_registration",
        "visit",
        "visit_step",
        "encounter",
        "prescription",
        "service_order",
        "payment",
        "dispense",
        "lab_report",
    ):
        assert t in kinds, t
    rebuilt = schemas.fold_visit([e for e in shipped if e.type != "resident"])
    assert rebuilt.as_json() == _node_state(world, vid)
    actions = {e["action"] for e in audit_entries(world.store.db, resident_id=rid)}
    assert {
        "desk:checkin",
        "desk:triage",
        "desk:call",
        "desk:consultation",
        "desk:payment",
        "desk:dispense",
        "desk:collect",
        "desk:result",
        "desk:finish",
        "write:card",
        "read:bill",
    } <= actions
    queue_reads = [e for e in audit_entries(world.store.db) if e["action"] == "read:queue"]
    assert queue_reads and all(e["detail"]["residents"] == [rid] for e in queue_reads)


def _node_state(world: World, vid: str) -> dict[str, Any]:
    body: dict[str, Any] = world.get("doctor", f"/visits/{vid}").json()
    return {k: v for k, v in body.items() if k not in ("resident", "provisional", "queue")}


# --- the card at the desk ----------------------------------------------------------------------------


def test_a_card_of_someone_known_here_finds_them_and_registers_no_one(world: World) -> None:
    content, image = card_of(world.issuer)
    rid = register(world, name="王秀英", sex="2", birth="1958-03-09", id_number=content.holder.id_number)
    before = world.store.counts()["residents"]
    r = world.post("clerk", "/card-registration", {"card": files_of(image)})
    assert r.status_code == 200, r.text
    assert r.json()["holder"] == {
        "resident_id": rid,
        "created": False,
        "provisional": False,
        "duplicates": [],
    }
    assert world.store.counts()["residents"] == before


def test_a_provisional_registration_is_flagged_until_the_master_index_links_it(world: World) -> None:
    _, image = card_of(world.issuer)
    r = world.post("clerk", "/card-registration", {"card": files_of(image)})
    assert r.status_code == 201, r.text
    rid = r.json()["holder"]["resident_id"]
    facts = world.store.records_of(rid, types=["card_registration"])
    assert len(facts) == 1 and facts[0].data["card_number"] == "5113210000000042"
    assert facts[0].data["from_card"] == [
        "birth_date",
        "card_number",
        "id_number",
        "insurance_number",
        "name",
        "sex",
    ]
    vid = checked_in(world, rid)["visit_id"]
    assert world.get("clerk", f"/visits/{vid}").json()["provisional"] is True
    with world.store.transaction() as w:  # the hub's master index links it to the same person elsewhere
        w.apply_link(rid, [("01a2144d-0000-7000-8000-000000000001", "other-node")], master_id="m-1")
    assert world.get("clerk", f"/visits/{vid}").json()["provisional"] is False
    # the same card again: found, nothing new
    again = world.post("clerk", "/card-registration", {"card": files_of(image)})
    assert again.status_code == 200 and again.json()["holder"]["resident_id"] == rid


def test_a_forged_card_registers_nothing_and_queues_no_one(world: World) -> None:
    _, image = card_of(world.issuer)
    files = files_of(image)
    forged = dict(files, efs={**files["efs"], "0002": files["efs"]["0002"][:-2] + "00"})
    before = world.store.counts()
    for path, body in (
        ("/card-registration", {"card": forged}),
        ("/checkin", {"card": forged, "department": "general"}),
    ):
        r = world.post("clerk", path, body)
        assert r.status_code == 422 and r.json()["verified"] is False and r.json()["reason"] == "forged"
    other = Issuer()  # a card of another region's key
    _, foreign = card_of(other)
    r = world.post("clerk", "/card-registration", {"card": files_of(foreign)})
    assert r.status_code == 422 and r.json()["verified"] is False
    assert world.store.counts() == before
    assert world.store.outbox_pending() == before["outbox_pending"]


def test_a_node_without_a_hub_key_cannot_register_from_cards(tmp_path: Any) -> None:
    home = init_home(tmp_path / "lonely", clinic="511321101", name="x")
    clock = Clock()
    store = make_store(home, clock)
    headers = add_staff(store)
    _, image = card_of(Issuer())
    with TestClient(app=create_app(store.db, store, clock=clock)) as client:
        r = client.post(
            "/api/v1/desk/card-registration", json={"card": files_of(image)}, headers=headers["clerk"]
        )
    assert r.status_code == 409 and "not enrolled" in r.json()["detail"]
    store.db.close()


# --- the queue ---------------------------------------------------------------------------------------


def test_queue_numbers_count_per_day_and_department(world: World) -> None:
    a, b, c = (register(world, name=n) for n in ("甲一", "乙二", "丙三"))
    assert checked_in(world, a)["queue_number"] == 1
    assert checked_in(world, b)["queue_number"] == 2
    assert checked_in(world, c, "paediatrics")["queue_number"] == 1
    r = world.post("clerk", "/checkin", {"resident_id": a, "department": "general"})
    assert r.status_code == 409 and r.json()["errors"] == [
        {"field": "resident_id", "message": "already in today's queue of this department as number 1"}
    ]
    assert checked_in(world, a, "tcm")["queue_number"] == 1, "another department is another queue"
    world.clock.advance(24 * 60)
    assert checked_in(world, a)["queue_number"] == 1, "a new day starts at 1"
    yesterday = world.get("clerk", "/queue", day="2026-11-25").json()["visits"]
    assert [(v["department"], v["queue_number"]) for v in yesterday] == [
        ("general", 1),
        ("general", 2),
        ("paediatrics", 1),
        ("tcm", 1),
    ]
    assert [
        v["queue_number"] for v in world.get("clerk", "/queue", department="general").json()["visits"]
    ] == [1]


def test_each_workstation_filters_its_queue(world: World) -> None:
    waiting, paying, leaving = (register(world, name=n) for n in ("候诊", "缴费", "离开"))
    checked_in(world, waiting)
    v = consulted(world, paying, prescriptions=[rx(("amoxicillin_250mg_cap", 1))])
    gone = checked_in(world, leaving)["visit_id"]
    world.ok("clerk", f"/visits/{gone}/cancel", {"reason": "患者改日再来"})
    cashier = world.get("clerk", "/queue", pending="payment").json()["visits"]
    assert [x["visit_id"] for x in cashier] == [checked_in_id(world, waiting), v["visit_id"]]
    steps = world.get("clerk", "/queue", step="awaiting_payment,cancelled").json()["visits"]
    assert {(x["step"], x["due_fen"]) for x in steps} == {
        ("awaiting_payment", v["due_fen"]),
        ("cancelled", 0),
    }
    bad = world.get("clerk", "/queue", step="lunch")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "step"
    bad = world.get("clerk", "/queue", pending="coffee")
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "pending"


def checked_in_id(world: World, rid: str) -> str:
    return next(
        v["visit_id"] for v in world.get("clerk", "/queue").json()["visits"] if v["resident"]["id"] == rid
    )


# --- money -------------------------------------------------------------------------------------------


def test_nothing_is_paid_twice_and_a_changed_bill_is_quoted_again(world: World) -> None:
    rid = register(world, insurance_number="R5113210077")
    v = consulted(world, rid, prescriptions=[rx(("amoxicillin_250mg_cap", 2))])
    vid = v["visit_id"]
    quoted = world.get("clerk", f"/visits/{vid}/bill").json()["total_fen"]
    # the doctor adds a test between the quote and the payment: the cashier is stopped
    world.ok("doctor", f"/visits/{vid}/consultation", {"orders": [{"service": "urinalysis"}]})
    before = world.store.counts()
    r = world.post("clerk", f"/visits/{vid}/payments", {"method": "cash", "expected_total_fen": quoted})
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "expected_total_fen"
    assert world.store.counts() == before
    total = world.get("clerk", f"/visits/{vid}/bill").json()["total_fen"]
    assert total == quoted + price("service", "urinalysis")
    world.ok("clerk", f"/visits/{vid}/payments", {"method": "cash", "expected_total_fen": total})
    r = world.post("clerk", f"/visits/{vid}/payments", {"method": "cash"})
    assert r.status_code == 409 and r.json()["errors"] == [
        {"field": "visit_id", "message": "nothing is due on this visit"}
    ]


def test_the_annual_cap_and_deductible_come_from_the_residents_year(world: World) -> None:
    rid = register(world, insurance_number="R5113210088")
    cap = 40_000  # urban-rural resident insurance: 400 yuan a year of outpatient reimbursement
    packs = 100
    v1 = consulted(world, rid, prescriptions=[rx(("amlodipine_5mg_tab", packs), days=30)])
    total1 = price("service", "general_consultation") + packs * price("drug", "amlodipine_5mg_tab")
    paid1 = world.ok("clerk", f"/visits/{v1['visit_id']}/payments", {"method": "cash"})["payment"]
    assert (paid1["total_fen"], paid1["insurance_fen"]) == (total1, min(cap, (total1 * 550 + 500) // 1000))
    assert paid1["insurance_fen"] == cap, "the first visit alone reaches the cap"
    world.clock.advance(60 * 24 * 3)
    v2 = consulted(world, rid, prescriptions=[rx(("amlodipine_5mg_tab", 1))])
    paid2 = world.ok("clerk", f"/visits/{v2['visit_id']}/payments", {"method": "cash"})["payment"]
    assert paid2["insurance_fen"] == 0 and paid2["self_fen"] == paid2["total_fen"]
    # refunding the first visit's medicine (not handed over) gives the cap back for the kept lines
    refund = world.ok(
        "clerk",
        f"/payments/{paid1['payment_id']}/refund",
        {
            "lines": [{"source": "drug", "ref": v1["drugs"][0]["prescription_id"], "index": 0}],
            "reason": "患者退药",
        },
    )
    kept = refund["resettled"]
    assert kept["lines"][0]["code"] == "general_consultation" and len(kept["lines"]) == 1
    assert kept["insurance_fen"] == (price("service", "general_consultation") * 550 + 500) // 1000
    assert refund["to_fund_fen"] == paid1["insurance_fen"] - kept["insurance_fen"]
    assert refund["to_resident_fen"] == paid1["self_fen"] - kept["self_fen"]
    # an employee's deductible (800 yuan a year) is met before the fund pays anything
    emp = register(world, insurance_number="E5113210099")
    v3 = consulted(world, emp, prescriptions=[rx(("amlodipine_5mg_tab", 10))])
    visit_record = world.store.record(v3["visit_id"])
    assert visit_record.data["scheme"] == "urban_rural_resident"
    emp_visit = checked_in(world, emp, "internal", scheme="employee")
    world.ok(
        "doctor",
        f"/visits/{emp_visit['visit_id']}/consultation",
        consultation(prescriptions=[rx(("amlodipine_5mg_tab", 10))]),
    )
    bill = world.get("clerk", f"/visits/{emp_visit['visit_id']}/bill").json()
    assert bill["deductible_fen"] == bill["eligible_fen"] == bill["total_fen"] and bill["insurance_fen"] == 0


def test_refunds_reverse_the_payment_and_settle_the_kept_lines_again(world: World) -> None:
    rid = register(world, insurance_number="R5113210066")
    v = consulted(
        world,
        rid,
        prescriptions=[rx(("amoxicillin_250mg_cap", 2))],
        orders=[{"service": "chest_dr"}, {"service": "cbc"}],
    )
    vid = v["visit_id"]
    paid = world.ok("clerk", f"/visits/{vid}/payments", {"method": "alipay"})
    payment = paid["payment"]
    orders = {o["service"]: o["order_id"] for o in paid["visit"]["orders"]}
    rx_id = paid["visit"]["drugs"][0]["prescription_id"]
    world.ok(
        "pharmacist",
        f"/visits/{vid}/dispense",
        {"prescription_id": rx_id, "items": [{"index": 0, "quantity": 1}]},
    )
    world.ok("nurse", f"/orders/{orders['cbc']}/collect")
    before = world.store.counts()
    # what was handed over or done cannot be refunded
    for line, field in (
        ({"source": "drug", "ref": rx_id, "index": 0, "quantity": 2}, "lines.0"),
        ({"source": "service", "ref": orders["cbc"]}, "lines.0"),
        ({"source": "registration", "ref": vid}, "lines.0"),
    ):
        r = world.post(
            "clerk", f"/payments/{payment['payment_id']}/refund", {"lines": [line], "reason": "退"}
        )
        assert r.status_code == 409 and r.json()["errors"][0]["field"] == field, r.text
    r = world.post(
        "clerk",
        f"/payments/{payment['payment_id']}/refund",
        {"lines": [{"source": "drug", "ref": vid}], "reason": "x"},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "lines.0"
    r = world.post("clerk", f"/payments/{payment['payment_id']}/refund", {"reason": " "})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    assert world.store.counts() == before
    # the X-ray not taken and the pack not handed over go back; the rest is settled again
    out = world.ok(
        "clerk",
        f"/payments/{payment['payment_id']}/refund",
        {
            "lines": [
                {"source": "service", "ref": orders["chest_dr"]},
                {"source": "drug", "ref": rx_id, "quantity": 1},
            ],
            "reason": "未做检查，退一盒药",
        },
    )
    back = world.store.record(out["refund"]["refund_id"])
    assert (back.type, back.data["payment_id"], back.data["total_fen"]) == (
        "refund",
        payment["payment_id"],
        payment["total_fen"],
    )
    kept = out["resettled"]
    withdrawn = price("service", "chest_dr") + price("drug", "amoxicillin_250mg_cap")
    assert kept["total_fen"] == payment["total_fen"] - withdrawn
    assert world.store.record(kept["payment_id"]).data["replaces"] == payment["payment_id"]
    assert out["to_resident_fen"] + out["to_fund_fen"] == withdrawn
    state = out["visit"]
    assert [p["refunded"] for p in state["payments"]] == [True, False]
    assert {o["service"]: o["status"] for o in state["orders"]} == {
        "chest_dr": "withdrawn",
        "cbc": "collected",
    }
    drug = state["drugs"][0]
    assert (drug["prescribed"], drug["paid"], drug["dispensed"], drug["to_dispense"]) == (2, 1, 1, 0)
    assert state["due_fen"] == 0 and state["step"] == "exams_pending"
    # the refunded payment is spent: refunding it again is refused, the X-ray is off the worklist
    again = world.post("clerk", f"/payments/{payment['payment_id']}/refund", {"reason": "again"})
    assert again.status_code == 409 and again.json()["errors"][0]["field"] == "payment_id"
    assert [o["service"] for o in world.get("nurse", "/worklist/exams").json()["orders"]] == ["cbc"]
    r = world.post("nurse", f"/orders/{orders['chest_dr']}/collect")
    assert r.status_code == 409 and r.json()["errors"][0]["message"] == "was refunded"
    assert [e.type for e in outbox_records(world.store)][-2:] == ["refund", "payment"]


# --- the pharmacy and the lab -------------------------------------------------------------------------


def test_medicine_is_handed_over_only_when_paid_and_only_once(world: World) -> None:
    rid = register(world)
    v = consulted(world, rid, prescriptions=[rx(("amoxicillin_250mg_cap", 2), ("paracetamol_500mg_tab", 1))])
    vid, rx_id = v["visit_id"], v["drugs"][0]["prescription_id"]
    before = world.store.counts()
    r = world.post("pharmacist", f"/visits/{vid}/dispense", {"prescription_id": rx_id})
    assert r.status_code == 409
    assert r.json()["errors"] == [
        {"field": "prescription_id", "message": "item 0 is not paid: send the resident to the cashier first"}
    ]
    assert world.store.counts() == before
    world.ok("clerk", f"/visits/{vid}/payments", {"method": "cash"})
    r = world.post(
        "pharmacist",
        f"/visits/{vid}/dispense",
        {"prescription_id": rx_id, "items": [{"index": 0, "quantity": 3}]},
    )
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "items.0.quantity"
    r = world.post(
        "pharmacist", f"/visits/{vid}/dispense", {"prescription_id": rx_id, "items": [{"index": 5}]}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "items.0.index"
    world.ok(
        "pharmacist",
        f"/visits/{vid}/dispense",
        {"prescription_id": rx_id, "items": [{"index": 1}], "note": "阿莫西林缺货"},
    )
    world.ok("pharmacist", f"/visits/{vid}/dispense", {"prescription_id": rx_id})
    for body in ({"prescription_id": rx_id}, {"prescription_id": rx_id, "items": [{"index": 1}]}):
        r = world.post("pharmacist", f"/visits/{vid}/dispense", body)
        assert r.status_code == 409 and "already dispensed" in r.json()["errors"][0]["message"]
    handed = [e for e in world.store.records_of(rid, types=["dispense"])]
    assert sorted((i["index"], i["quantity"]) for e in handed for i in e.data["items"]) == [(0, 2), (1, 1)]
    r = world.post("pharmacist", f"/visits/{vid}/dispense", {"prescription_id": vid})
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "prescription_id"


def test_an_examination_is_done_and_reported_once_and_only_when_paid(world: World) -> None:
    rid = register(world)
    v = consulted(world, rid, orders=[{"service": "ecg"}])
    order = v["orders"][0]["order_id"]
    r = world.post("nurse", f"/orders/{order}/collect")
    assert r.status_code == 409 and "not paid" in r.json()["errors"][0]["message"]
    assert world.get("nurse", "/worklist/exams").json()["orders"] == []
    world.ok("clerk", f"/visits/{v['visit_id']}/payments", {"method": "cash"})
    r = world.post("nurse", f"/orders/{order}/result", {"type": "lab_report", "data": {}})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "type"
    r = world.post(
        "nurse", f"/orders/{order}/result", {"type": "imaging_report", "data": {"positive": "maybe"}}
    )
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"data.positive", "data.conclusion", "data.reporting_doctor"} <= fields
    ecg = {"conclusion": "窦性心律，正常心电图", "positive": False, "reporting_doctor": "李医生"}
    out = world.ok("nurse", f"/orders/{order}/result", {"type": "imaging_report", "data": ecg})
    report = world.store.record(out["records"][0]["id"])
    assert (report.data["modality"], report.data["body_part"]) == ("ECG", "HEART")
    r = world.post("nurse", f"/orders/{order}/result", {"type": "imaging_report", "data": ecg})
    assert r.status_code == 409 and "was reported" in r.json()["errors"][0]["message"]
    r = world.post("nurse", f"/orders/{rid}/collect")
    assert r.status_code == 404


# --- the end of a visit --------------------------------------------------------------------------------


def test_finish_and_cancel_keep_the_books_straight(world: World) -> None:
    rid = register(world)
    v = consulted(world, rid, prescriptions=[rx(("amoxicillin_250mg_cap", 1))])
    vid = v["visit_id"]
    r = world.post("clerk", f"/visits/{vid}/finish")
    assert r.status_code == 409 and "is due" in r.json()["errors"][0]["message"]
    paid = world.ok("clerk", f"/visits/{vid}/payments", {"method": "cash"})
    r = world.post("clerk", f"/visits/{vid}/cancel", {"reason": "不看了"})
    assert r.status_code == 409 and "refund it" in r.json()["errors"][0]["message"]
    r = world.post("clerk", f"/payments/{paid['payment']['payment_id']}/refund", {"reason": "不看了"})
    assert r.status_code == 409 and r.json()["errors"][0]["message"] == "the consultation took place"
    assert world.ok("clerk", f"/visits/{vid}/finish")["visit"]["step"] == "done"
    r = world.post("clerk", f"/visits/{vid}/finish")
    assert r.status_code == 409 and "has ended" in r.json()["errors"][0]["message"]

    # 退号: the registration fee paid at the desk comes back, then the registration is cancelled
    early = checked_in(world, register(world, name="退号"))["visit_id"]
    fee = world.ok("clerk", f"/visits/{early}/payments", {"method": "cash"})["payment"]
    assert fee["total_fen"] == price("service", "general_consultation")
    world.ok("clerk", f"/payments/{fee['payment_id']}/refund", {"reason": "患者要求退号"})
    gone = world.ok("clerk", f"/visits/{early}/cancel", {"reason": "患者要求退号"})["visit"]
    assert (gone["step"], gone["ended_reason"], gone["due_fen"], gone["pending"]) == (
        "cancelled",
        "患者要求退号",
        0,
        [],
    )
    for role, path in (
        ("clerk", "/payments"),
        ("doctor", "/consultation"),
        ("nurse", "/triage"),
        ("doctor", "/call"),
    ):
        body = {"method": "cash", **consultation()}
        r = world.post(role, f"/visits/{early}{path}", body)
        assert r.status_code == 409, (path, r.text)

    # a resident who leaves keeps their paid medicine on the pharmacy's list (as does the finished visit)
    other = register(world, name="走了")
    w = consulted(world, other, prescriptions=[rx(("amoxicillin_250mg_cap", 1))])
    world.ok("clerk", f"/visits/{w['visit_id']}/payments", {"method": "cash"})
    left = world.ok("clerk", f"/visits/{w['visit_id']}/cancel", {"reason": "等不及离开", "left": True})[
        "visit"
    ]
    assert (left["step"], left["pending"]) == ("left", ["dispensing"])
    listed = world.get("pharmacist", "/queue", pending="dispensing").json()["visits"]
    assert [x["visit_id"] for x in listed] == [vid, w["visit_id"]]
    done = world.ok(
        "pharmacist",
        f"/visits/{w['visit_id']}/dispense",
        {"prescription_id": w["drugs"][0]["prescription_id"]},
    )
    assert done["visit"]["pending"] == []


# --- bad input -------------------------------------------------------------------------------------------


def test_bad_input_names_the_field_and_stores_nothing(world: World) -> None:
    rid = register(world)
    vid = checked_in(world, rid)["visit_id"]
    before = world.store.counts()
    cases: list[tuple[str, str, dict[str, Any], int, set[str]]] = [
        ("clerk", "/checkin", {"resident_id": rid, "department": "cardiology"}, 422, {"department"}),
        ("clerk", "/checkin", {"department": "general"}, 422, {"resident_id"}),
        (
            "clerk",
            "/checkin",
            {"resident_id": rid, "department": "tcm", "fees": [{"service": "cbc"}]},
            422,
            {"fees.0.service"},
        ),
        (
            "clerk",
            "/checkin",
            {"resident_id": rid, "department": "tcm", "scheme": "employee"},
            422,
            {"insurance_number"},
        ),
        ("clerk", "/checkin", {"resident_id": "nobody", "department": "tcm"}, 409, {"resident_id"}),
        (
            "nurse",
            f"/visits/{vid}/triage",
            {"vitals": {"systolic": 90, "diastolic": 120}},
            422,
            {"vitals.diastolic"},
        ),
        ("nurse", f"/visits/{vid}/triage", {"vitals": [1]}, 422, {"vitals"}),
        (
            "doctor",
            f"/visits/{vid}/consultation",
            {"prescriptions": [rx(("amoxicillin_250mg_cap", 1))]},
            422,
            {"encounter"},
        ),
        (
            "doctor",
            f"/visits/{vid}/consultation",
            consultation(
                prescriptions=[rx(("aspirin_1000mg_pill", 1))],
                orders=[{"service": "iv_infusion"}, {"service": "cbc", "urgency": "asap"}],
                fees=[{"service": "chest_dr"}],
            ),
            422,
            {"prescriptions.0.items.0.drug", "orders.0.service", "orders.1.urgency"},
        ),
        (
            "doctor",
            f"/visits/{vid}/consultation",
            consultation(fees=[{"service": "chest_dr"}]),
            422,
            {"fees.0.service"},
        ),
        ("doctor", f"/visits/{vid}/consultation", {"encounter": "fever"}, 422, {"encounter"}),
        ("clerk", f"/visits/{vid}/payments", {"method": "gold"}, 422, {"method"}),
        (
            "clerk",
            f"/visits/{vid}/payments",
            {"method": "cash", "expected_total_fen": 12.5},
            422,
            {"expected_total_fen"},
        ),
        ("clerk", f"/visits/{vid}/cancel", {}, 422, {"reason"}),
        ("clerk", f"/visits/{vid}/cancel", {"reason": "x", "left": "yes"}, 422, {"left"}),
        ("pharmacist", f"/visits/{vid}/dispense", {}, 422, {"prescription_id"}),
        ("nurse", f"/orders/{vid}/result", {"type": "lab_report"}, 422, {"data"}),
    ]
    for role, path, body, status, fields in cases:
        r = world.post(role, path, body)
        assert r.status_code == status, (path, body, r.text)
        got = {e["field"] for e in r.json()["errors"]}
        assert fields <= got, (path, got)
    for role, path in (
        ("clerk", "/checkin"),
        ("doctor", f"/visits/{vid}/consultation"),
        ("clerk", f"/visits/{vid}/payments"),
    ):
        for raw in (b"", b"{", b"[]", b'"x"'):
            r = world.client.post(
                f"/api/v1/desk{path}",
                content=raw,
                headers={**world.headers[role], "content-type": "application/json"},
            )
            assert 400 <= r.status_code < 500 and r.json()["errors"][0]["field"], (path, raw, r.text)
    r = world.get("clerk", "/visits/01a2144d-0000-7000-8000-00000000dead")
    assert r.status_code == 404
    assert world.store.counts() == before


def test_every_refused_step_is_audited_and_stores_nothing(world: World) -> None:
    rid = register(world)
    vid = checked_in(world, rid)["visit_id"]
    before = world.store.counts()
    for role, path in (
        ("pharmacist", f"/visits/{vid}/payments"),
        ("clerk", f"/visits/{vid}/consultation"),
        ("admin", "/queue"),
        ("doctor", f"/visits/{vid}/dispense"),
    ):
        r = world.post(role, path) if path != "/queue" else world.get(role, path)
        assert r.status_code == 403, (role, path)
    assert world.store.counts() == before
    denied = [
        (e["user"], e["action"]) for e in audit_entries(world.store.db) if e["action"].startswith("denied")
    ]
    assert ("pharmacist", "denied:desk.charge") in denied and ("admin", "denied:desk.queue") in denied
    assert ("doctor", "denied:desk.dispense") in denied and ("clerk", "denied:desk.consult") in denied


def test_desk_records_are_not_written_or_read_as_plain_records(world: World) -> None:
    rid = register(world)
    vid = checked_in(world, rid)["visit_id"]
    forged_step = {"visit_id": vid, "at": "2026-11-25T08:10:00", "step": "finished"}
    r = world.client.post(
        f"/api/v1/residents/{rid}/records",
        json={"type": "visit_step", "data": forged_step},
        headers=world.headers["doctor"],
    )
    assert r.status_code == 403
    r = world.client.get(f"/api/v1/records/{vid}", headers=world.headers["doctor"])
    assert r.status_code == 403
    tree = world.client.get(f"/api/v1/residents/{rid}/file-tree", headers=world.headers["doctor"]).json()
    assert not [rec for c in tree["categories"] for g in c["groups"] for rec in g["records"]]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=8,
)
FIELDS = [
    "resident_id",
    "department",
    "card",
    "fees",
    "encounter",
    "prescriptions",
    "orders",
    "method",
    "expected_total_fen",
    "lines",
    "reason",
    "prescription_id",
    "items",
    "type",
    "data",
    "vitals",
    "left",
]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=5), which=st.integers(0, 8))
def test_random_bodies_never_break_a_step(world: World, body: dict[str, Any], which: int) -> None:
    if world.fuzz is None:
        rid = register(world, name="随机")
        v = consulted(
            world, rid, prescriptions=[rx(("amoxicillin_250mg_cap", 2))], orders=[{"service": "cbc"}]
        )
        paid = world.ok("clerk", f"/visits/{v['visit_id']}/payments", {"method": "cash"})
        world.fuzz = (v["visit_id"], paid["payment"]["payment_id"], v["orders"][0]["order_id"])
    vid, pid, oid = world.fuzz
    role, path = [
        ("clerk", "/checkin"),
        ("clerk", "/card-registration"),
        ("nurse", f"/visits/{vid}/triage"),
        ("doctor", f"/visits/{vid}/consultation"),
        ("clerk", f"/visits/{vid}/payments"),
        ("clerk", f"/payments/{pid}/refund"),
        ("pharmacist", f"/visits/{vid}/dispense"),
        ("nurse", f"/orders/{oid}/result"),
        ("clerk", f"/visits/{vid}/cancel"),
    ][which]
    r = world.post(role, path, body)
    assert r.status_code < 500, (path, body, r.text)
    if r.status_code >= 400:
        assert r.json().get("errors") or r.json().get("reason"), r.text


def test_malformed_parts_of_a_step_get_4xx_naming_them(world: World) -> None:
    rid = register(world, name="畸形")
    v = consulted(world, rid, prescriptions=[rx(("amoxicillin_250mg_cap", 2))], orders=[{"service": "cbc"}])
    vid = v["visit_id"]
    pid = world.ok("clerk", f"/visits/{vid}/payments", {"method": "cash"})["payment"]["payment_id"]
    rx_id, oid = v["drugs"][0]["prescription_id"], v["orders"][0]["order_id"]
    before = world.store.counts()
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        (
            "pharmacist",
            f"/visits/{vid}/dispense",
            {"prescription_id": rx_id, "items": [{"index": [1]}]},
            "items.0.index",
        ),
        (
            "pharmacist",
            f"/visits/{vid}/dispense",
            {"prescription_id": rx_id, "items": [{"index": True}]},
            "items.0.index",
        ),
        (
            "pharmacist",
            f"/visits/{vid}/dispense",
            {"prescription_id": rx_id, "items": [{"index": 0, "quantity": "1"}]},
            "items.0.quantity",
        ),
        ("pharmacist", f"/visits/{vid}/dispense", {"prescription_id": rx_id, "items": 3}, "items"),
        (
            "clerk",
            f"/payments/{pid}/refund",
            {"reason": "x", "lines": [{"source": ["a"], "ref": {}, "index": []}]},
            "lines.0",
        ),
        (
            "clerk",
            f"/payments/{pid}/refund",
            {"reason": "x", "lines": [{"source": "drug", "ref": rx_id, "quantity": True}]},
            "lines.0.quantity",
        ),
        (
            "clerk",
            f"/payments/{pid}/refund",
            {"reason": "x", "lines": [{"source": "drug", "ref": rx_id, "quantity": 9}]},
            "lines.0.quantity",
        ),
        (
            "doctor",
            f"/visits/{vid}/consultation",
            {"prescriptions": [{"items": [1]}]},
            "prescriptions.0.items.0",
        ),
        ("doctor", f"/visits/{vid}/consultation", {"orders": [{"service": {"a": 1}}]}, "orders.0.service"),
        (
            "clerk",
            "/checkin",
            {
                "resident_id": rid,
                "department": "tcm",
                "fees": [{"service": "general_consultation", "quantity": "2"}],
            },
            "fees.0.quantity",
        ),
        ("nurse", f"/orders/{oid}/result", {"type": "lab_report", "data": {"items": "x"}}, "data.items"),
        ("clerk", "/card-registration", {"card": {"efs": {"zz": "qq"}}}, "card"),
        ("clerk", "/checkin", {"card": 5, "department": "general"}, "card"),
    ]
    for role, path, body, field in cases:
        r = world.post(role, path, body)
        assert r.status_code in (400, 422), (path, body, r.text)
        assert field in {e["field"] for e in r.json()["errors"]}, (path, r.json())
    assert world.store.counts() == before


def test_no_one_is_queued_after_their_death(world: World) -> None:
    from .test_record_types import EXAMPLES

    rid = register(world, name="故人")
    world.store.add_record(rid, "death", EXAMPLES["death"](), user="setup")
    r = world.post("clerk", "/checkin", {"resident_id": rid, "department": "general"})
    assert r.status_code == 409 and r.json()["errors"] == [
        {"field": "resident_id", "message": "a death is recorded for this resident on 2025-03-01"}
    ]
