"""Issuing at the hub and reading at a node: a real hub and node, joined in-process at the transport seam.

The node registers a resident and records care, syncs to the real hub app,
the hub issues a card from what it holds, and the node's API identifies the
card's holder and says what to write after the next visit. The card is the
virtual card (its APDU interface); PC/SC has its own tests. SYNTHETIC DATA ONLY.
"""

from __future__ import annotations

import datetime as dt
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

import cardreader as cr
import hub
from node import NodeHome, NodeStore, SyncClient, create_app, enroll, init_home

from .conftest import HubTransport, auth, encounter_data, id_number, prescription_data, resident_data

TODAY = dt.date.today()  # the hub's card key is valid from the day its home is made: today


@dataclass
class World:
    hub_home: hub.HubHome
    node_home: NodeHome
    store: NodeStore
    sync: SyncClient
    resident_id: str
    number: str


@pytest.fixture
def world(tmp_path: Path, home: NodeHome, store: NodeStore) -> Iterator[World]:
    hub_home = hub.init_hub_home(tmp_path / "hub", region="511321")
    hub_store = hub_home.store()
    app = hub.create_app(hub_store, key=hub_home.key(), hub_id=hub_home.hub_id, region="511321")
    with TestClient(app=app) as hub_client:
        transport = HubTransport(hub_client)
        enroll(
            home,
            hub_url="http://hub.test",
            token=hub.issue_token(hub_store, home.clinic),
            transport=transport,
        )
        number = id_number("1970-05-12", "1")
        reg = store.register_resident(
            resident_data(
                birth="1970-05-12",
                id_number=number,
                blood_type={"abo": "B", "rh": "negative"},
                past_history=[{"icd10": "J45.9"}],
                emergency_contacts=[{"name": "王芳", "relation": "10", "phone": "13912345678"}],
            ),
            user="clerk",
        )
        rid = reg.envelope.id
        allergy = {"recorded_on": "2026-01-05", "substance": "青霉素", "substance_category": "drug"}
        store.add_record(rid, "allergy", {**allergy, "reaction": "皮疹", "severity": "severe"}, user="doc")
        enc = store.add_record(rid, "encounter", encounter_data("2026-03-02T09:30:00", "I10"), user="doc")
        store.add_record(rid, "prescription", {**prescription_data(), "encounter_id": enc.id}, user="doc")
        sync = SyncClient.for_home(home, store, transport=transport)
        sync.round()
        yield World(hub_home, home, store, sync, rid, number)
        sync.close()
    hub_store.db.close()


def issue(w: World, number: str | None = None) -> tuple[cr.CardContent, cr.CardImage]:
    db = w.hub_home.database()
    try:
        content, files = hub.issue_files(
            w.hub_home.store(db).reads(),
            number or w.number,
            issuer=w.hub_home.card_issuer(),
            authority_code="511321",
            authority_name="南部县卫生健康局",
            issued_on=TODAY,
            new_card_number=lambda: "5113210000000001",
        )
    finally:
        db.close()
    image = cr.CardImage.blank()
    cr.write_card(cr.Channel(cr.VirtualCard(image).process), files)
    return content, image


def test_the_hub_keeps_an_owner_only_card_key_certified_by_its_own_key(tmp_path: Path) -> None:
    h = hub.init_hub_home(tmp_path / "hub", region="511321")
    key_path = h.path / "keys" / "card.key"
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600 and (h.path / "keys" / "card.pub").exists()
    key, cert = h.card_issuer()
    assert cr.decode_certificate(cert).card_key == cr.public_bytes(key)
    key_path.unlink()  # a home made before cards: the key is made on first use
    (h.path / "keys" / "card.cert").unlink()
    new_key, new_cert = h.card_issuer()
    assert cr.public_bytes(new_key) != cr.public_bytes(key) and new_cert != cert


def test_a_card_issued_from_the_hubs_records_verifies_at_the_node(world: World) -> None:
    content, image = issue(world)
    got = cr.open_card(
        cr.read_files(cr.Channel(cr.VirtualCard(image).process)),
        trust=world.node_home.card_trust(),
        today=TODAY,
    )
    assert got.content == content
    assert content.holder.id_number == world.number and content.issuer.card_number == "5113210000000001"
    assert content.emergency.blood == cr.BloodGroup("B", "negative")
    assert [a.substance for a in content.emergency.allergies] == ["青霉素"]
    assert content.emergency.conditions == ("asthma", "hypertension")
    assert content.emergency.contacts[0].phone == "13912345678"
    assert [(v.on, v.diagnoses, v.clinic) for v in content.visits] == [
        (dt.date(2026, 3, 2), ("I10",), "511321100")
    ]
    assert content.visits[0].prescriptions


def test_the_hub_refuses_a_card_for_someone_it_does_not_know(world: World) -> None:
    with pytest.raises(hub.CardIssueError, match="id-number: the hub holds no resident"):
        issue(world, id_number("1980-01-01", "2"))
    with pytest.raises(hub.CardIssueError, match="id-number"):
        issue(world, "12345")


def test_a_node_not_enrolled_cannot_check_cards(tmp_path: Path) -> None:
    lonely = init_home(tmp_path / "lonely", clinic="511321101", name="x")
    with pytest.raises(cr.UntrustedNode, match="not enrolled"):
        lonely.card_trust()


def api(world: World, staff_tokens: dict[str, str]) -> Any:
    app = create_app(
        world.store.db,
        world.store,
        clinic="511321100",
        name="南隆镇卫生院",
        card_trust=world.node_home.card_trust(),
    )
    return TestClient(app=app)


def test_the_desk_api_identifies_the_holder_shows_emergency_data_and_audits(
    world: World, staff_tokens: dict[str, str]
) -> None:
    _, image = issue(world)
    files = cr.read_files(cr.Channel(cr.VirtualCard(image).process)).as_json()
    with api(world, staff_tokens) as client:
        r = client.post("/api/v1/card/read", json={"card": files}, headers=auth(staff_tokens["doctor"]))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["verified"] and body["source"] == "node" and body["matched_by"] == "id_number"
        assert body["resident"]["id"] == world.resident_id
        assert body["card"]["emergency"]["allergies"][0]["substance"] == "青霉素"
        clerk = client.post(
            "/api/v1/card/read", json={"card": files}, headers=auth(staff_tokens["clerk"])
        ).json()
        assert clerk["withheld"] == ["emergency", "visits"] and "emergency" not in clerk["card"]
        forged = dict(files, efs={**files["efs"], "0002": files["efs"]["0002"][:-2] + "00"})
        bad = client.post("/api/v1/card/read", json={"card": forged}, headers=auth(staff_tokens["doctor"]))
        assert bad.status_code == 422 and bad.json()["verified"] is False and bad.json()["reason"] == "forged"
        missing = client.post(
            "/api/v1/card/read", json={"card": {"efs": {}}}, headers=auth(staff_tokens["doctor"])
        )
        assert missing.status_code == 422
    from node import audit_entries

    actions = [(e["action"], e["resident_id"]) for e in audit_entries(world.store.db)]
    assert actions.count(("read:card", world.resident_id)) == 2 and ("read:card", None) in actions


def test_a_card_of_someone_unknown_here_still_shows_the_cards_data(
    world: World, staff_tokens: dict[str, str], tmp_path: Path
) -> None:
    _, image = issue(world)
    files = cr.read_files(cr.Channel(cr.VirtualCard(image).process)).as_json()
    other = init_home(tmp_path / "other", clinic="511321102", name="另一卫生院")
    (other.path / "hub.json").write_text((world.node_home.path / "hub.json").read_text())
    db = other.database()
    store = NodeStore(db, node_id=other.node_id)
    with store.db.write() as conn:
        conn.execute(
            "INSERT INTO users (name, role, password_hash, created_at) "
            "VALUES ('nurse', 'nurse', 'x', '2026-01-01')"
        )
    from node import issue_token

    token = issue_token(db, "nurse", kind="bearer")
    app = create_app(db, store, clinic="511321102", name="另一卫生院", card_trust=other.card_trust())
    with TestClient(app=app) as client:
        body = client.post("/api/v1/card/read", json={"card": files}, headers=auth(token)).json()
    db.close()
    assert body["source"] == "card" and body["resident"] is None
    assert (
        body["card"]["holder"]["id_number"] == world.number
        and body["card"]["emergency"]["blood"]["abo"] == "B"
    )


def test_the_end_of_a_visit_writes_the_ring_and_the_new_allergy(
    world: World, staff_tokens: dict[str, str]
) -> None:
    _, image = issue(world)
    card = cr.VirtualCard(image)
    files = cr.read_files(cr.Channel(card.process))
    rid = world.resident_id
    world.store.add_record(
        rid,
        "allergy",
        {"recorded_on": "2026-11-20", "substance": "头孢", "substance_category": "drug"},
        user="d",
    )
    enc = world.store.add_record(rid, "encounter", encounter_data("2026-11-25T10:00:00", "E11.9"), user="d")
    with api(world, staff_tokens) as client:
        r = client.post(
            "/api/v1/card/visit",
            json={"card": files.as_json(), "encounter_id": enc.id},
            headers=auth(staff_tokens["doctor"]),
        )
        assert r.status_code == 200, r.text
        denied = client.post(
            "/api/v1/card/visit",
            json={"card": files.as_json(), "encounter_id": enc.id},
            headers=auth(staff_tokens["clerk"]),
        )
        assert denied.status_code == 403
    writes = r.json()
    ch = cr.Channel(card.process)
    ch.exchange(cr.Command(0x00, 0xA4, 0x04, 0x00, cr.AID, 256))
    assert ch.exchange(cr.Command(0x00, 0xE2, 0x00, cr.EF.VISITS.sfi << 3, bytes.fromhex(writes["visit"]))).ok
    for i, note in enumerate(writes["notes"], start=writes["notes_on_card"] + 1):
        assert ch.exchange(cr.Command(0x00, 0xDC, i, (cr.EF.NOTES.sfi << 3) | 4, bytes.fromhex(note))).ok
    after = cr.open_card(
        cr.read_files(cr.Channel(card.process)), trust=world.node_home.card_trust(), today=TODAY
    )
    assert [v.diagnoses for v in after.content.visits] == [("E11.9",), ("I10",)]
    added = [(n.allergy.substance if n.allergy else n.condition) for n in after.content.notes]
    assert added == ["头孢", "diabetes"] and all(n.clinic == "511321100" for n in after.content.notes)
