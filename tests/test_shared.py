"""Shared records back to clinics, and privacy: what each clinic's feed carries (the whole record of its
residents' master persons, referred residents' records), sensitive records held back without consent,
breaking the glass, and a visiting resident's summary on demand, each audited.

Hub-side tests use the test clinics of ``test_hub`` against the real hub app. Node-side tests run real
clinic nodes (store, sync client, API) against the same real hub app in this process, joined at the
transport seam (``conftest.HubTransport``), so a node's signed requests reach the hub as they would over HTTP.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

from cli import rhip
from hub import HubHome, HubStore
from hub import issue_token as hub_token
from node import NodeHome, NodeStore, SyncClient, audit_entries, create_app, enroll, init_home
from node import issue_token as staff_token

from . import test_hub
from .conftest import HubTransport, auth, encounter_data, id_number, prescription_data, resident_data
from .test_hub import Clinic, Clock, answer, enrolled
from .test_record_types import EXAMPLES, chronic_followup

A, B, C = "511321100", "511321101", "511321102"


# The hub app and its store, the fixtures of test_hub.
client, clock, hub_home, hub_store = test_hub.client, test_hub.clock, test_hub.hub_home, test_hub.hub_store


def push(c: Clinic, client: TestClient[Any], *records: dict[str, Any]) -> None:
    answer(c.push(client, c.seal(*records)))


def ids(c: Clinic, client: TestClient[Any], hub_home: HubHome) -> list[str]:
    return [i["id"] for i in c.pulled_items(client, hub_home.public_key()) if "id" in i]


def record(c: Clinic, type_: str, resident: dict[str, Any], **data: Any) -> dict[str, Any]:
    body = {**EXAMPLES[type_](), **data} if type_ in EXAMPLES else data
    return c.envelope(type_, body, resident_id=resident["resident_id"])


def consent(c: Clinic, resident: dict[str, Any], decision: str, on: str = "2026-01-05") -> dict[str, Any]:
    return c.envelope(
        "consent",
        {"given_on": on, "decision": decision, "signed_by": "李秀兰"},
        resident_id=resident["resident_id"],
    )


def same_person(
    client: TestClient[Any], store: HubStore
) -> tuple[Clinic, Clinic, dict[str, Any], dict[str, Any]]:
    a, b = enrolled(client, store, A), enrolled(client, store, B)
    number = id_number("1962-04-18", "2")
    ra = a.resident(name="李秀兰", sex="2", birth="1962-04-18", id_number=number, card_number="A1234567")
    push(a, client, ra)
    rb = b.resident(name="李秀兰", sex="2", birth="1962-04-18", id_number=number)
    push(b, client, rb)
    return a, b, ra, rb


def signed_get(c: Clinic, client: TestClient[Any], path: str) -> Any:
    return client.get(path, headers=c.headers("GET", path))


def signed_post(c: Clinic, client: TestClient[Any], path: str, body: dict[str, Any]) -> Any:
    content = json.dumps(body).encode()
    return client.post(path, content=content, headers=c.headers("POST", path, content))


# -- privacy ----------------------------------------------------------------------------------------


def test_sensitive_records_are_withheld_without_consent_and_shared_with_it(
    client: TestClient[Any], hub_store: HubStore, hub_home: HubHome
) -> None:
    a, b, ra, _rb = same_person(client, hub_store)
    mental = record(a, "mental_followup", ra)
    hiv = a.encounter(ra, icd10="B20")
    cold = a.encounter(ra, icd10="J06.9")
    push(a, client, mental, hiv, cold)
    shared = ids(b, client, hub_home)
    assert cold["id"] in shared and mental["id"] not in shared and hiv["id"] not in shared

    push(a, client, consent(a, ra, "permit"))
    shared = ids(b, client, hub_home)
    assert {mental["id"], hiv["id"]} <= set(shared)  # held back until now, sent once consent came
    assert len(shared) == len(set(shared))

    # A later refusal stops further sharing; what was shared stays shared.
    push(a, client, consent(a, ra, "deny", on="2026-03-01"))
    syphilis = a.encounter(ra, when="2026-04-01T10:00:00", icd10="A53.9")
    push(a, client, syphilis)
    assert syphilis["id"] not in ids(b, client, hub_home)


def test_operators_add_sensitive_categories(
    client: TestClient[Any], hub_store: HubStore, hub_home: HubHome
) -> None:
    home = str(hub_home.path)
    r = CliRunner().invoke(
        rhip, ["hub", "privacy", "--home", home, "--sensitive", "F32-F33", "--by", "wangli"]
    )
    assert r.exit_code == 0, r.output
    assert "F32, F33" in r.output and "added by wangli: F32 (icd)" in r.output
    r = CliRunner().invoke(
        rhip, ["hub", "privacy", "--home", home, "--sensitive", "tb_followup", "--by", "w"]
    )
    assert r.exit_code == 0
    r = CliRunner().invoke(rhip, ["hub", "privacy", "--home", home, "--sensitive", "nonsense", "--by", "w"])
    assert r.exit_code != 0 and "neither a record type" in r.output
    r = CliRunner().invoke(rhip, ["hub", "privacy", "--home", home, "--not-sensitive", "B20", "--by", "w"])
    assert r.exit_code != 0 and "built-in" in r.output
    a, b, ra, _ = same_person(client, hub_store)
    depression = a.encounter(ra, icd10="F32.1")
    tb = record(a, "tb_followup", ra)
    cold = a.encounter(ra, when="2026-03-03T09:00:00")
    push(a, client, depression, tb, cold)
    shared = set(ids(b, client, hub_home))
    assert cold["id"] in shared and not {depression["id"], tb["id"]} & shared
    rules = client.get("/api/v1/privacy").json()
    assert "tb_followup" in rules["types"] and "F33" in rules["icd_prefixes"]
    assert {"value": "F32", "kind": "icd", "by": "wangli"} in rules["added"]
    r = client.post("/api/v1/privacy", content=json.dumps({"add": "F40", "by": "w"}).encode())
    assert r.status_code == 400 and r.json()["field"] == "add"


def test_breaking_the_glass_releases_withheld_records_once_audited_and_alerted(
    client: TestClient[Any], hub_store: HubStore, hub_home: HubHome
) -> None:
    a, b, ra, rb = same_person(client, hub_store)
    hiv = a.encounter(ra, icd10="B24")
    push(a, client, hiv)
    assert hiv["id"] not in ids(b, client, hub_home)
    path = f"/sync/v1/break-glass/{b.node_id}"
    r = signed_post(b, client, path, {"resident_id": rb["id"], "user": "dr_zhou"})
    assert r.status_code == 400 and r.json()["field"] == "reason"
    r = signed_post(
        b, client, path, {"resident_id": rb["id"], "reason": "unconscious, HIV drugs?", "user": "dr_zhou"}
    )
    assert r.status_code == 200, r.text
    released = r.json()
    assert [x["id"] for x in released["records"]] == [hiv["id"]] and released["records"][0] == hiv
    assert released["clinics"] == {a.node_id: {"clinic": A, "name": f"{A} 卫生院"}}
    assert hiv["id"] not in ids(b, client, hub_home)  # released once, not put in the feed
    # Another node cannot break the glass in B's name.
    r = signed_post(a, client, path, {"resident_id": rb["id"], "reason": "x", "user": "y"})
    assert r.status_code == 403

    (entry,) = hub_store.reads().access_log()
    assert (entry.node_id, entry.user, entry.action, entry.reason) == (
        b.node_id,
        "dr_zhou",
        "break-glass",
        "unconscious, HIV drugs?",
    )
    status = json.loads(
        CliRunner().invoke(rhip, ["hub", "status", "--home", str(hub_home.path), "--json"]).output
    )
    (alert,) = [x for x in status["alerts"] if x["kind"] == "break-glass"]
    assert alert["node_id"] == b.node_id and "dr_zhou" in alert["detail"] and "1 withheld" in alert["detail"]

    # The CLI reads the wall clock, the app the test's clock: silent-node alerts differ, the rest not.
    def stored(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [a for a in alerts if a["kind"] != "silent"]

    assert stored(client.get("/api/v1/status").json()["alerts"]) == stored(status["alerts"])
    log = client.get("/api/v1/access-log").json()["entries"]
    assert [(x["action"], x["detail"]) for x in log] == [("break-glass", {"records": 1})]


# -- referrals ----------------------------------------------------------------------------------------


def test_a_referral_routes_the_shared_record_to_the_receiving_clinic(
    client: TestClient[Any], hub_store: HubStore, hub_home: HubHome
) -> None:
    a, c = enrolled(client, hub_store, A), enrolled(client, hub_store, C)
    ra = a.resident(name="周国强", birth="1958-11-02")
    visit = a.encounter(ra, icd10="I10")
    hiv = a.encounter(ra, icd10="B24")
    push(a, client, ra, visit, hiv)
    assert ids(c, client, hub_home) == []
    referral = record(a, "referral", ra, from_clinic=A, to_clinic=C)
    push(a, client, referral)
    items = c.pulled_items(client, hub_home.public_key())
    assert items[0] == {
        "kind": "directory",
        "nodes": [{"node_id": a.node_id, "clinic": A, "name": f"{A} 卫生院"}],
    }
    assert [i["id"] for i in items[1:]] == [ra["id"], visit["id"], referral["id"]]  # not the sensitive one
    later = a.encounter(ra, when="2026-06-01T08:00:00")
    push(a, client, later)
    assert ids(c, client, hub_home)[-1] == later["id"]
    # A referral to a clinic without a node is no error (C holds the resident: it gets the record).
    push(a, client, record(a, "referral", ra, from_clinic=A, to_clinic="THC999"))
    assert len(ids(c, client, hub_home)) == 5


# -- the summary on demand ----------------------------------------------------------------------------


def test_a_visiting_residents_summary_is_audited_with_its_reason(
    client: TestClient[Any], hub_store: HubStore, hub_home: HubHome
) -> None:
    a, b, ra, rb = same_person(client, hub_store)
    push(
        a,
        client,
        record(a, "allergy", ra),
        a.envelope("hypertension_followup", chronic_followup(), resident_id=ra["id"]),
        a.encounter(ra, when="2026-09-01T09:00:00", icd10="I10"),
        a.envelope("prescription", prescription_data("2026-11-01T09:40:00"), resident_id=ra["id"]),
        a.envelope("prescription", prescription_data("2026-01-01T09:40:00"), resident_id=ra["id"]),
        record(a, "lab_report", ra),
        a.encounter(ra, when="2026-10-01T09:00:00", icd10="B20"),
    )
    push(b, client, b.encounter(rb, when="2026-10-10T09:00:00", icd10="J06.9"))
    history = [{"icd10": "B20", "since": "2020-02-02"}, {"icd10": "E11.9", "since": "2019-01-01"}]
    push(a, client, a.update(ra, past_history=history))
    d = enrolled(client, hub_store, "511321109")  # the clinic she walks into
    path = f"/sync/v1/summary/{d.node_id}?resident=A1234567&reason=walk-in%20visit&user=dr_wu"
    r = signed_get(d, client, path)
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["demographics"]["name"] == "李秀兰" and "family" not in s["demographics"]
    assert sorted(s["resident_ids"]) == sorted([ra["id"], rb["id"]])
    assert [x["substance"] for x in s["allergies"]] == ["青霉素"]
    assert [(x["code"], x["source"]) for x in s["conditions"]] == [("E11.9", None), ("I10", a.node_id)]
    assert s["demographics"]["past_history"] == [history[1]]  # the HIV history item is left out too
    assert len(s["medications"]) == 2  # the follow-up's drug and the recent prescription, not the old one
    assert [(x["visit_time"], x["source"]) for x in s["encounters"]] == [
        ("2026-10-10T09:00:00", b.node_id),
        ("2026-09-01T09:00:00", a.node_id),
    ]
    assert [x["panel_name"] for x in s["labs"]] == [EXAMPLES["lab_report"]()["panel_name"]]
    assert s["withheld"] is True  # the HIV encounter is left out, not named
    assert "B20" not in json.dumps(s)
    assert set(s["clinics"]) == {a.node_id, b.node_id}

    r = signed_get(d, client, f"/sync/v1/summary/{d.node_id}?resident=ZZ999999&reason=walk-in&user=dr_wu")
    assert r.status_code == 404 and r.json()["field"] == "resident"
    r = signed_get(d, client, f"/sync/v1/summary/{d.node_id}?resident=A1234567&user=dr_wu")
    assert r.status_code == 400 and r.json().get("field") == "reason", r.json()
    entries = hub_store.reads().access_log()
    assert [(e.node_id, e.user, e.action, e.reason, e.detail["found"]) for e in entries] == [
        (d.node_id, "dr_wu", "summary", "walk-in", False),
        (d.node_id, "dr_wu", "summary", "walk-in visit", True),
    ]
    assert entries[1].master_id == s["master_id"] and entries[1].detail["withheld"] == 2


# -- clinic nodes against the real hub ------------------------------------------------------------------


@dataclass
class Node:
    home: NodeHome
    store: NodeStore
    sync: SyncClient
    link: HubTransport
    api: TestClient[Any]
    tokens: dict[str, str]

    def post(self, path: str, role: str, body: dict[str, Any]) -> Any:
        return self.api.post(path, content=json.dumps(body).encode(), headers=auth(self.tokens[role]))

    def get(self, path: str, role: str = "doctor") -> Any:
        return self.api.get(path, headers=auth(self.tokens[role]))


@pytest.fixture
def nodes(
    tmp_path: Path, client: TestClient[Any], hub_store: HubStore, clock: Clock, password_hash: str
) -> Iterator[Callable[[str], Node]]:
    made: list[Node] = []

    def make(code: str) -> Node:
        home = init_home(tmp_path / code, clinic=code, name=f"{code} 卫生院")
        link = HubTransport(client)
        enroll(
            home, hub_url="http://hub.test", token=hub_token(hub_store, code), transport=link, wall_ms=clock
        )
        db = home.database()
        store = NodeStore(db, node_id=home.node_id, wall_ms=clock, today=lambda: dt.date(2026, 11, 18))
        sync = SyncClient.for_home(home, store, transport=link, wall_ms=clock)
        with db.write() as conn:
            for role in ("doctor", "nurse", "clerk"):
                conn.execute(
                    "INSERT INTO users (name, role, password_hash, created_at) "
                    "VALUES (?, ?, ?, '2026-01-01')",
                    (role, role, password_hash),
                )
        tokens = {role: staff_token(db, role, kind="bearer") for role in ("doctor", "nurse", "clerk")}
        api = TestClient(app=create_app(db, store, clinic=code, name=home.name, sync=sync))
        api.__enter__()
        made.append(Node(home, store, sync, link, api, tokens))
        return made[-1]

    yield make
    for n in made:
        n.api.__exit__(None, None, None)
        n.sync.close()
        n.store.db.close()


def _register(n: Node, **extra: Any) -> str:
    data = resident_data("李秀兰", sex="2", birth="1962-04-18", **extra)
    return n.store.register_resident(data, user="clerk").envelope.id


def test_a_clinic_shows_shared_records_with_their_source_and_breaks_the_glass(
    nodes: Callable[[str], Node], hub_store: HubStore
) -> None:
    a, b = nodes(A), nodes(B)
    number = id_number("1962-04-18", "2")
    ra, rb = _register(a, id_number=number), _register(b, id_number=number)
    visit = a.store.add_record(ra, "encounter", encounter_data("2026-10-01T09:00:00", "I10"), user="dr_li")
    hiv = a.store.add_record(ra, "encounter", encounter_data("2026-10-02T09:00:00", "B24"), user="dr_li")
    a.sync.round()
    b.sync.round()
    b.sync.round()
    tree = b.get(f"/api/v1/residents/{rb}/file-tree").json()
    assert tree["links"] == [
        {"resident_id": ra, "node_id": a.home.node_id, "clinic": A, "name": f"{A} 卫生院"}
    ]
    assert tree["master_id"] == hub_store.reads().resident_master(rb)
    shown = [r for c in tree["categories"] for g in c["groups"] for r in g["records"]]
    assert [(r["id"], r["shared"], r["read_only"], r["source"]["clinic"]) for r in shown] == [
        (visit.id, True, True, A)
    ]
    # The HIV visit was withheld; a doctor breaks the glass with a reason, once.
    r = b.post(f"/api/v1/residents/{rb}/break-glass", "nurse", {"reason": "emergency"})
    assert r.status_code == 403
    r = b.post(f"/api/v1/residents/{rb}/break-glass", "doctor", {})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "reason"
    r = b.post(f"/api/v1/residents/{rb}/break-glass", "doctor", {"reason": "unconscious, on ART?"})
    assert r.status_code == 200, r.text
    (released,) = r.json()["records"]
    assert (released["id"], released["break_glass"], released["source"]["clinic"]) == (hiv.id, True, A)
    assert b.store.db.reader().execute("SELECT 1 FROM records WHERE id = ?", (hiv.id,)).fetchone() is None
    entry = next(e for e in audit_entries(b.store.db) if e["action"] == "break-glass")
    assert (entry["user"], entry["resident_id"], entry["reason"]) == ("doctor", rb, "unconscious, on ART?")
    assert entry["detail"]["records"] == [hiv.id]
    assert [x["kind"] for x in hub_store.status()["alerts"]] == ["break-glass"]
    b.link.down = True
    r = b.post(f"/api/v1/residents/{rb}/break-glass", "doctor", {"reason": "again"})
    assert r.status_code == 503 and r.json()["reason"] == "unreachable" and "online" in r.json()["detail"]


def test_a_desk_reads_a_visiting_residents_summary_online_only(
    nodes: Callable[[str], Node], hub_store: HubStore
) -> None:
    a, d = nodes(A), nodes("511321109")
    ra = _register(a, card_number="A1234567")
    a.store.add_record(ra, "allergy", EXAMPLES["allergy"](), user="dr_li")
    a.store.add_record(ra, "encounter", encounter_data("2026-10-01T09:00:00", "I10"), user="dr_li")
    a.sync.round()
    r = d.post("/api/v1/shared/summary", "clerk", {"resident": "A1234567", "reason": "walk-in"})
    assert r.status_code == 403
    r = d.post("/api/v1/shared/summary", "doctor", {"resident": "A1234567"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "reason"
    r = d.post("/api/v1/shared/summary", "doctor", {"resident": "A1234567", "reason": "walk-in visit"})
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["read_only"] is True and s["demographics"]["card_number"] == "A1234567"
    assert s["encounters"][0]["source"] == {"node_id": a.home.node_id, "clinic": A, "name": f"{A} 卫生院"}
    assert [x["substance"] for x in s["allergies"]] == ["青霉素"]
    entry = audit_entries(d.store.db)[0]
    assert (entry["action"], entry["user"], entry["reason"]) == (
        "read:shared-summary",
        "doctor",
        "walk-in visit",
    )
    assert entry["detail"] == {"master_id": s["master_id"], "withheld": False}
    assert [(e.node_id, e.user, e.reason) for e in hub_store.reads().access_log()] == [
        (d.home.node_id, "doctor", "walk-in visit")
    ]
    r = d.post("/api/v1/shared/summary", "doctor", {"resident": "ZZ000001", "reason": "walk-in"})
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "resident"
    d.link.down = True
    r = d.post("/api/v1/shared/summary", "doctor", {"resident": "A1234567", "reason": "walk-in"})
    assert r.status_code == 503 and "needs it online" in r.json()["detail"]
    assert audit_entries(d.store.db)[0]["detail"] == {"found": False, "why": "unreachable"}


def test_a_referred_resident_shows_at_the_receiving_clinic_read_only(
    nodes: Callable[[str], Node], hub_store: HubStore
) -> None:
    a, c = nodes(A), nodes(C)
    ra = _register(a)
    visit = a.store.add_record(ra, "encounter", encounter_data("2026-10-01T09:00:00", "I10"), user="dr_li")
    referral = a.store.add_record(
        ra, "referral", {**EXAMPLES["referral"](), "from_clinic": A, "to_clinic": C}, user="dr_li"
    )
    a.sync.round()
    c.sync.round()
    (shared,) = c.get("/api/v1/shared/residents", "clerk").json()["residents"]
    assert (shared["resident_id"], shared["name"]) == (ra, "李秀兰")
    assert shared["source"]["clinic"] == A and [x["record_id"] for x in shared["referrals"]] == [referral.id]
    tree = c.get(f"/api/v1/shared/residents/{ra}/file-tree").json()
    assert tree["shared"] is True and tree["source"]["name"] == f"{A} 卫生院"
    shown = {r["id"]: r for cat in tree["categories"] for g in cat["groups"] for r in g["records"]}
    assert set(shown) == {visit.id, referral.id} and all(r["read_only"] for r in shown.values())
    r = c.get("/api/v1/shared/residents/nobody/file-tree")
    assert r.status_code == 404
    # Once the resident registers at the receiving clinic, the hub links them: the shared list empties.
    rc = _register(c, id_number=a.store.resident(ra)["id_number"])
    c.sync.round()
    c.sync.round()
    assert c.get("/api/v1/shared/residents", "clerk").json()["residents"] == []
    assert {r["id"] for cat in c.get(f"/api/v1/residents/{rc}/file-tree").json()["categories"]
            for g in cat["groups"] for r in g["records"]} == {visit.id, referral.id}  # fmt: skip
