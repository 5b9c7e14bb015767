"""A visit's state is the fold of its records: the same whatever the order, whoever writes at once.

Two workstations are two connections to the node's real SQLite file (the
server and a command line, or two server threads), racing through a barrier.
SYNTHETIC DATA ONLY.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import schemas
from node import Desk, DeskConflict, NodeHome, Role, Staff, init_home
from node._desk_read import visit_records
from schemas import RecordEnvelope, Step

from .conftest import encounter_data, resident_data
from .test_desk import Clock, make_store, rx

CLERK = Staff("clerk", Role.CLERK, "收费员")
DOCTOR = Staff("doctor", Role.DOCTOR, "王医生")
NURSE = Staff("nurse", Role.NURSE, "护士")
PHARMACIST = Staff("pharmacist", Role.PHARMACIST, "药师")


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[NodeHome, Clock, Desk]]:
    home = init_home(tmp_path / "clinic", clinic="511321100", name="南隆镇卫生院")
    clock = Clock()
    store = make_store(home, clock)
    yield home, clock, Desk(store, clinic=home.clinic, clock=clock)
    store.db.close()


def consultation() -> dict[str, Any]:
    return {k: v for k, v in encounter_data().items() if k not in ("visit_time", "charges")}


def full_visit(desk: Desk) -> str:
    """A visit through every step, with a partial dispensing and a refund on the way."""
    rid = desk.store.register_resident(
        resident_data(insurance_number="R5113210123"), user="setup"
    ).envelope.id
    vid = desk.checkin(user=CLERK, department="general", resident_id=rid).state.visit_id
    desk.triage(vid, user=NURSE, vitals={"temperature_c": 37.9})
    desk.call(vid, user=DOCTOR)
    state = desk.consult(
        vid,
        user=DOCTOR,
        encounter=consultation(),
        prescriptions=[rx(("amoxicillin_250mg_cap", 2), ("paracetamol_500mg_tab", 1))],
        orders=[{"service": "cbc"}, {"service": "chest_dr"}],
        fees=[{"service": "nebulisation"}],
    ).state
    paid = desk.pay(vid, user=CLERK, method="cash")
    rx_id = state.drugs[0].prescription_id
    desk.dispense(vid, user=PHARMACIST, prescription_id=rx_id, items=[{"index": 0, "quantity": 1}])
    xray = next(o.order_id for o in state.orders if o.service == "chest_dr")
    desk.refund(
        paid.extra["payment"]["payment_id"],
        user=CLERK,
        reason="未做",
        lines=[{"source": "service", "ref": xray}],
    )
    cbc = next(o.order_id for o in state.orders if o.service == "cbc")
    desk.collect(cbc, user=NURSE)
    return vid


def records_of(desk: Desk, vid: str) -> list[RecordEnvelope]:
    """Every record of the visit, as the hub would gather them."""
    return visit_records(desk.store.db.reader(), vid)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_fold_does_not_depend_on_the_order_records_arrive_in(
    node: tuple[NodeHome, Clock, Desk], data: st.DataObject
) -> None:
    _, _, desk = node
    vid = _cached_visit(desk)
    records = records_of(desk, vid)
    expected = schemas.fold_visit(records)
    shuffled = data.draw(st.permutations(records))
    assert schemas.fold_visit(shuffled) == expected
    assert expected.step is Step.AWAITING_DISPENSING and expected.pending == ["dispensing", "exams"]
    assert not expected.anomalies


_VISITS: dict[int, str] = {}


def _cached_visit(desk: Desk) -> str:
    """One full visit per node (hypothesis reruns the body with the same fixture)."""
    key = id(desk)
    if key not in _VISITS:
        _VISITS.clear()
        _VISITS[key] = full_visit(desk)
    return _VISITS[key]


def test_a_visit_rebuilt_from_its_records_alone_agrees_and_reports_what_cannot_be(
    node: tuple[NodeHome, Clock, Desk],
) -> None:
    _, _, desk = node
    vid = full_visit(desk)
    records = records_of(desk, vid)
    state = schemas.fold_visit(records)
    assert [d.dispensed for d in state.drugs] == [1, 0] and [d.to_dispense for d in state.drugs] == [1, 1]
    assert {o.service: o.as_json()["status"] for o in state.orders} == {
        "cbc": "collected",
        "chest_dr": "withdrawn",
    }
    assert state.due_fen == 0 and [p["refunded"] for p in state.payments] == [True, False]
    # a faulty node that handed over more than was paid: the hub's fold says so instead of hiding it
    handed = next(e for e in records if e.type == "dispense")
    extra = dataclasses.replace(
        handed,
        id="01a21453-0000-7000-8000-0000000000ff",
        fact_id="01a21453-0000-7000-8000-0000000000ff",
        data={**handed.data, "items": [{"index": 0, "drug": "amoxicillin_250mg_cap", "quantity": 5}]},
    )
    broken = schemas.fold_visit([*records, extra])
    assert any("6 dispensed but 2 paid" in a for a in broken.anomalies), broken.anomalies
    with pytest.raises(ValueError, match="0 visit registrations"):
        schemas.fold_visit([e for e in records if e.type != "visit"])


def race(*actions: Callable[[], Any]) -> list[Any]:
    """Run ``actions`` at the same moment in threads; each one's result or the exception it raised."""
    barrier = threading.Barrier(len(actions))
    results: list[Any] = [None] * len(actions)

    def run(i: int, action: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[i] = action()
        except Exception as exc:  # the race's loser: kept to be asserted on
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def second_workstation(home: NodeHome, clock: Clock) -> Desk:
    """Another connection to the same node database (a command line next to the server)."""
    return Desk(make_store(home, clock), clinic=home.clinic, clock=clock)


def test_two_workstations_writing_at_once_both_leave_their_step(node: tuple[NodeHome, Clock, Desk]) -> None:
    home, clock, desk = node
    other = second_workstation(home, clock)
    try:
        rid = desk.store.register_resident(resident_data(), user="setup").envelope.id
        vid = desk.checkin(user=CLERK, department="general", resident_id=rid).state.visit_id
        for _ in range(5):
            got = race(
                lambda: desk.triage(vid, user=NURSE, vitals={"pulse": 80}, workstation="分诊台"),
                lambda: other.call(vid, user=DOCTOR, workstation="诊室2"),
            )
            assert not [g for g in got if isinstance(g, Exception)], got
        state = desk.visit(vid)
        kinds = [e.kind for e in state.events]
        assert kinds.count("triaged") == 5 and kinds.count("called") == 5
        assert state.step is Step.IN_CONSULTATION, "called wins over triaged whatever order they landed in"
        assert other.visit(vid) == state
        # queue numbers stay unique when two clerks register at the same moment
        people = [
            desk.store.register_resident(resident_data(name=n), user="s").envelope.id for n in "甲乙丙丁"
        ]

        def number(d: Desk, r: str) -> Callable[[], int]:
            return lambda: d.checkin(user=CLERK, department="paediatrics", resident_id=r).state.queue_number

        got = race(*(number(d, r) for r, d in zip(people, (desk, other, desk, other), strict=True)))
        assert sorted(got) == [1, 2, 3, 4]
    finally:
        other.store.db.close()


def test_two_cashiers_and_two_pharmacists_at_once_charge_and_hand_over_once(
    node: tuple[NodeHome, Clock, Desk],
) -> None:
    home, clock, desk = node
    other = second_workstation(home, clock)
    try:
        rid = desk.store.register_resident(resident_data(), user="setup").envelope.id
        vid = desk.checkin(user=CLERK, department="general", resident_id=rid).state.visit_id
        state = desk.consult(
            vid, user=DOCTOR, encounter=consultation(), prescriptions=[rx(("amoxicillin_250mg_cap", 2))]
        ).state
        got = race(
            lambda: desk.pay(vid, user=CLERK, method="cash"),
            lambda: other.pay(vid, user=CLERK, method="wechat"),
        )
        wins = [g for g in got if not isinstance(g, Exception)]
        losses = [g for g in got if isinstance(g, Exception)]
        assert len(wins) == 1 and len(losses) == 1 and isinstance(losses[0], DeskConflict)
        assert losses[0].field == "visit_id" and "nothing is due" in losses[0].message
        assert len(desk.store.records_of(rid, types=["payment"])) == 1
        rx_id = state.drugs[0].prescription_id
        got = race(
            lambda: desk.dispense(vid, user=PHARMACIST, prescription_id=rx_id),
            lambda: other.dispense(vid, user=PHARMACIST, prescription_id=rx_id),
        )
        assert sum(isinstance(g, DeskConflict) for g in got) == 1
        handed = desk.store.records_of(rid, types=["dispense"])
        assert [i["quantity"] for e in handed for i in e.data["items"]] == [2]
        final = desk.visit(vid)
        assert final.drugs[0].dispensed == 2 and not final.anomalies
    finally:
        other.store.db.close()
