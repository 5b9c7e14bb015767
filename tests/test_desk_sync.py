"""A visit's records sync to a real hub, which accepts them and rebuilds the same visit from what it holds.

The hub app runs in-process, joined to the node's sync client at the
transport seam (as in test_card_issue). Real clocks on both sides; nothing
here asserts on the time. SYNTHETIC DATA ONLY.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar.testing import TestClient

import hub
import schemas
from node import Desk, NodeStore, Role, Staff, SyncClient, enroll, init_home
from sync import decode

from .conftest import HubTransport, encounter_data, resident_data
from .test_desk import rx


def test_the_hub_holds_every_step_and_rebuilds_the_visit(tmp_path: Path) -> None:
    hub_home = hub.init_hub_home(tmp_path / "hub", region="511321")
    hub_store = hub_home.store()
    app = hub.create_app(hub_store, key=hub_home.key(), hub_id=hub_home.hub_id, region="511321")
    home = init_home(tmp_path / "clinic", clinic="511321100", name="南隆镇卫生院")
    db = home.database()
    store = NodeStore(db, node_id=home.node_id)
    with TestClient(app=app) as hub_client:
        transport = HubTransport(hub_client)
        enroll(
            home,
            hub_url="http://hub.test",
            token=hub.issue_token(hub_store, home.clinic),
            transport=transport,
        )
        desk = Desk(store, clinic=home.clinic)
        clerk, doctor = Staff("clerk", Role.CLERK), Staff("doctor", Role.DOCTOR, "王医生")
        nurse, pharmacist = Staff("nurse", Role.NURSE), Staff("pharmacist", Role.PHARMACIST)
        rid = store.register_resident(resident_data(insurance_number="R5113210555"), user="clerk").envelope.id
        vid = desk.checkin(user=clerk, department="general", resident_id=rid).state.visit_id
        desk.triage(vid, user=nurse, vitals={"temperature_c": 38.0})
        desk.call(vid, user=doctor)
        encounter: dict[str, Any] = {
            k: v for k, v in encounter_data().items() if k not in ("visit_time", "charges")
        }
        state = desk.consult(
            vid,
            user=doctor,
            encounter=encounter,
            prescriptions=[rx(("amoxicillin_250mg_cap", 2))],
            orders=[{"service": "cbc"}, {"service": "chest_dr"}],
        ).state
        paid = desk.pay(vid, user=clerk, method="cash")
        xray = next(o.order_id for o in state.orders if o.service == "chest_dr")
        desk.refund(
            paid.extra["payment"]["payment_id"],
            user=clerk,
            reason="未做",
            lines=[{"source": "service", "ref": xray}],
        )
        desk.dispense(vid, user=pharmacist, prescription_id=state.drugs[0].prescription_id)
        cbc = next(o.order_id for o in state.orders if o.service == "cbc")
        desk.collect(cbc, user=nurse)
        desk.report_result(
            cbc, user=nurse, type_="lab_report", data={"items": [{"name": "白细胞", "value": 6.2}]}
        )
        final = desk.finish(vid, user=clerk).state
        assert final.step is schemas.Step.DONE

        client = SyncClient.for_home(home, store, transport=transport)
        try:
            result = client.round()
        finally:
            client.close()
    assert result.pending == 0 and store.outbox_pending() == 0
    assert hub_store.held() == [], "the hub applied every desk record"
    reads = hub_store.reads()
    at_hub = [schemas.RecordEnvelope.from_dict(decode(c)) for _, _, _, c in reads.records_about(rid)]
    types = {e.type for e in at_hub}
    assert {"visit", "visit_step", "service_order", "payment", "refund", "dispense", "lab_report"} <= types
    rebuilt = schemas.fold_visit([e for e in at_hub if e.type != "resident"])
    assert rebuilt == final
    db.close()
    hub_store.db.close()
