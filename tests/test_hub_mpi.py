"""The master patient index inside the hub: ingest links registrations, a review queue, operator actions
(link, unlink, merge, unmerge, decide) audited and reversible, and the clinics' feeds following.

Clinics are the test clinics of ``test_hub`` (key, node id, records sealed with ``sync``) talking to the
real hub app over its HTTP API and a real SQLite file; operators use the console API on "loopback"
and the ``rhip hub mpi`` commands on the same home.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

import schemas
from cli import rhip
from hub import HubHome, HubStore, review_queue, show_master
from hub import _db as hub_db
from hub.mpi import MasterIndex, Registration

from . import test_hub
from .conftest import id_number, resident_data
from .test_hub import Clinic, answer, enrolled, make_app

NO_ID = next(iter(schemas.code_list("id_missing_reason").codes)).code


# The hub app and its store, the fixtures of test_hub.
client, clock, hub_home, hub_store = test_hub.client, test_hub.clock, test_hub.hub_home, test_hub.hub_store


def feed(c: Clinic, client: TestClient[Any], hub_home: HubHome) -> list[dict[str, Any]]:
    """Every item of a clinic's hub feed, verified as a node verifies it."""
    return c.pulled_items(client, hub_home.public_key())


def links(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [i for i in items if i.get("kind") == "link"]


def master_of(store: HubStore, resident_id: str) -> str:
    master = store.reads().resident_master(resident_id)
    assert master is not None
    return master


def op(client: TestClient[Any], path: str, **body: Any) -> Any:
    return client.post(f"/api/v1/mpi/{path}", content=json.dumps(body).encode())


def push(c: Clinic, client: TestClient[Any], *records: dict[str, Any]) -> None:
    answer(c.push(client, c.seal(*records)))


# -- ingest -----------------------------------------------------------------------------------------


def test_card_only_and_name_only_registrations_link_to_the_id_number_one(
    client: TestClient[Any], hub_store: HubStore, hub_home: HubHome
) -> None:
    """Three clinics, three registrations of one woman: one master person, every clinic told."""
    a, b, c = (enrolled(client, hub_store, code) for code in ("511321100", "511321101", "511321102"))
    who = {"name": "李秀兰", "sex": "2", "birth": "1962-04-18"}
    ra = a.resident(**who, card_number="A1234567", phone="13912345678")
    push(a, client, ra, a.encounter(ra))
    rb = b.resident(**who, id_number=None, id_number_missing=NO_ID, card_number="A1234567")
    push(b, client, rb)
    rc = c.resident(**who, id_number=None, id_number_missing=NO_ID, phone="13912345678")
    visit_c = c.encounter(rc, icd10="I10")
    push(c, client, rc, visit_c)

    master = master_of(hub_store, ra["id"])
    assert master_of(hub_store, rb["id"]) == master_of(hub_store, rc["id"]) == master
    view = show_master(hub_store, master)
    assert sorted(r["resident_id"] for r in view["registrations"]) == sorted([ra["id"], rb["id"], rc["id"]])
    assert review_queue(hub_store) == []
    # Each clinic learns the other two registrations and holds the whole record.
    nodes = {a.node_id: ra, b.node_id: rb, c.node_id: rc}
    for clinic in (a, b, c):
        items = feed(clinic, client, hub_home)
        last = {i["resident_id"]: i for i in links(items)}[nodes[clinic.node_id]["id"]]
        assert last["master_id"] == master
        assert sorted(x["resident_id"] for x in last["linked"]) == sorted(
            r["id"] for n, r in nodes.items() if n != clinic.node_id
        )
        got = [i["id"] for i in items if "id" in i]
        assert {r["id"] for n, r in nodes.items() if n != clinic.node_id} <= set(got)
        assert len(got) == len(set(got))  # nothing twice, though each link backfilled both ways
    assert visit_c["id"] in {i.get("id") for i in feed(a, client, hub_home)}


def test_twins_stay_apart_and_go_to_review_with_the_evidence(
    client: TestClient[Any], hub_store: HubStore, hub_home: HubHome
) -> None:
    a, b = enrolled(client, hub_store, "511321100"), enrolled(client, hub_store, "511321101")
    twin = {"sex": "1", "birth": "2015-06-01", "id_number": None, "id_number_missing": NO_ID}
    t1 = a.resident(name="张文杰", phone="13700001111", **twin)
    push(a, client, t1)
    t2 = b.resident(name="张文涛", phone="13700001111", **twin)
    push(b, client, t2)
    assert master_of(hub_store, t1["id"]) != master_of(hub_store, t2["id"])
    assert links(feed(a, client, hub_home)) == [] and links(feed(b, client, hub_home)) == []
    (item,) = review_queue(hub_store)
    assert item["resident_id"] == t2["id"] and item["master_id"] == master_of(hub_store, t2["id"])
    assert item["reason"] == "possible match (twin)"
    (candidate,) = item["candidates"]
    assert candidate["master_id"] == master_of(hub_store, t1["id"]) and candidate["rule"] == "twin"
    evidence = {e["field"]: e for e in candidate["evidence"]}
    assert (evidence["name"]["ours"], evidence["name"]["theirs"]) == ("张文涛", "张文杰")
    assert evidence["birth_date"]["level"] == "exact" and evidence["household"]["level"] == "phone_home"
    assert item["registration"]["clinic"] == "511321101"
    # The console lists the same queue; the CLI shows the evidence side by side.
    assert client.get("/api/v1/mpi/review").json()["items"] == [item]
    r = CliRunner().invoke(rhip, ["hub", "mpi", "review", "--home", str(hub_home.path)])
    assert r.exit_code == 0, r.output
    assert "张文涛  |  张文杰" in r.output and "(review, twin)" in r.output


def test_a_placeholder_card_number_links_nobody(
    client: TestClient[Any], hub_store: HubStore, hub_home: HubHome
) -> None:
    a, b = enrolled(client, hub_store, "511321100"), enrolled(client, hub_store, "511321101")
    pa = a.resident(name="王强", birth="1980-01-01", card_number="00000000", phone="13800000000")
    push(a, client, pa)
    pb = b.resident(
        name="赵敏",
        sex="2",
        birth="1990-02-02",
        id_number=None,
        id_number_missing=NO_ID,
        card_number="00000000",
        phone="13800000000",
    )
    push(b, client, pb)
    assert master_of(hub_store, pa["id"]) != master_of(hub_store, pb["id"])
    assert review_queue(hub_store) == [] and links(feed(b, client, hub_home)) == []


def test_an_unchanged_registration_is_never_matched_again(
    client: TestClient[Any], hub_store: HubStore, hub_home: HubHome
) -> None:
    a, b = enrolled(client, hub_store, "511321100"), enrolled(client, hub_store, "511321101")
    twin = {"sex": "1", "birth": "2015-06-01", "id_number": None, "id_number_missing": NO_ID}
    push(a, client, a.resident(name="张文杰", phone="13700001111", **twin))
    t2 = b.resident(name="张文涛", phone="13700001111", **twin)
    push(b, client, t2)
    (first,) = review_queue(hub_store)
    push(b, client, b.update(t2, occupation="5"))  # not a field the index compares: not matched again
    assert review_queue(hub_store) == [first]
    push(b, client, b.update(t2, phone="13700002222"))  # matched again: the old item is superseded
    (second,) = review_queue(hub_store)
    assert second["id"] != first["id"]
    assert [i["status"] for i in review_queue(hub_store, status=None)] == ["superseded", "open"]
    row = hub_store.reads().conn.execute(
        "SELECT phone FROM mpi_registrations WHERE record_id = ?", (t2["id"],)
    )
    assert row.fetchone()[0] == "13700002222"


# -- operators: review, link, unlink, merge, unmerge -----------------------------------------------------


def _two_apart(
    client: TestClient[Any], store: HubStore
) -> tuple[Clinic, Clinic, dict[str, Any], dict[str, Any]]:
    """One man registered at two clinics under two identity numbers: the index keeps them apart."""
    a, b = enrolled(client, store, "511321100"), enrolled(client, store, "511321101")
    ra = a.resident(name="赵德福", birth="1948-09-30", id_number=id_number("1948-09-30", "1"))
    push(a, client, ra, a.encounter(ra))
    rb = b.resident(name="赵德福", birth="1948-09-30", id_number=id_number("1948-09-30", "1"))
    push(b, client, rb, b.encounter(rb, icd10="I10"))
    assert master_of(store, ra["id"]) != master_of(store, rb["id"])
    return a, b, ra, rb


def test_decide_same_links_and_an_unlink_reverses_it_everywhere(
    client: TestClient[Any], hub_store: HubStore, hub_home: HubHome
) -> None:
    a, b, ra, rb = _two_apart(client, hub_store)
    (item,) = review_queue(hub_store)
    assert item["resident_id"] == rb["id"] and item["candidates"][0]["rule"] == "distinct_ids"
    r = client.post(
        f"/api/v1/mpi/review/{item['id']}/decide",
        content=json.dumps({"decision": "same", "by": "wangli", "reason": "one man, a typo in a number"}),
    )
    assert r.status_code == 200, r.text
    decided = r.json()["item"]
    assert (decided["status"], decided["outcome"], decided["decided_by"]) == ("decided", "same", "wangli")
    master = master_of(hub_store, ra["id"])
    assert master_of(hub_store, rb["id"]) == master == decided["chosen_master"]
    to_a = feed(a, client, hub_home)
    assert links(to_a)[-1]["linked"] == [{"resident_id": rb["id"], "node_id": b.node_id}]
    assert rb["id"] in {i.get("id") for i in to_a}  # the whole record came with the link

    r = op(client, "unlink", resident_id=rb["id"], by="wangli", reason="not him after all")
    assert r.status_code == 200, r.text
    entry = r.json()["audit"]
    assert entry["action"] == "unlink" and entry["before"] == {rb["id"]: master}
    assert master_of(hub_store, rb["id"]) == entry["master_id"] != master
    for clinic, mine, other in ((a, ra, rb), (b, rb, ra)):
        last = links(feed(clinic, client, hub_home))[-1]
        assert last["resident_id"] == mine["id"] and last["linked"] == []
        assert [u["resident_id"] for u in last["unlinked"]] == [other["id"]]
    # After the unlink, what one clinic writes about him no longer goes to the other.
    later = b.encounter(rb, when="2026-06-01T09:00:00")
    push(b, client, later)
    assert later["id"] not in {i.get("id") for i in feed(a, client, hub_home)}
    history = [e["action"] for e in show_master(hub_store, master)["history"]]
    assert history == ["link", "unlink"]


def test_merge_and_unmerge_round_trip_with_the_audit(
    client: TestClient[Any], hub_store: HubStore, hub_home: HubHome
) -> None:
    a, b, ra, rb = _two_apart(client, hub_store)
    keep, gone = master_of(hub_store, ra["id"]), master_of(hub_store, rb["id"])
    before_a = len(feed(a, client, hub_home))
    r = op(client, "merge", master_id=keep, other_master_id=gone, by="wangli", reason="one person")
    assert r.status_code == 200, r.text
    merge = r.json()["audit"]
    assert (merge["before"], merge["after"]) == ({rb["id"]: gone}, {rb["id"]: keep})
    assert master_of(hub_store, rb["id"]) == keep
    gained = feed(a, client, hub_home)[before_a:]
    assert {i.get("id") for i in gained} >= {rb["id"]} and links(gained)[0]["master_id"] == keep
    shown = show_master(hub_store, gone)
    assert shown["merged_into"] == keep and shown["registrations"] == []

    # A merge of the merged-away one, or of a master into itself, is refused naming the field.
    r = op(client, "merge", master_id=keep, other_master_id=gone, by="wangli", reason="again")
    assert r.status_code == 409 and r.json()["field"] == "other_master_id"
    r = op(client, "merge", master_id=keep, other_master_id=keep, by="wangli", reason="self")
    assert r.status_code == 409 and r.json()["field"] == "other_master_id"

    r = op(client, "unmerge", master_id=gone, by="zhaoq", reason="twins, not one person")
    assert r.status_code == 200, r.text
    undo = r.json()["audit"]
    assert undo["undoes"] == merge["id"] and undo["after"] == {rb["id"]: gone}
    assert master_of(hub_store, rb["id"]) == gone and show_master(hub_store, gone)["merged_into"] is None
    last = links(feed(a, client, hub_home))[-1]
    assert last["linked"] == [] and last["unlinked"] == [{"resident_id": rb["id"], "node_id": b.node_id}]
    history = show_master(hub_store, keep)["history"]
    assert [(e["action"], e["actor"], e["undone_by"]) for e in history] == [
        ("merge", "wangli", undo["id"]),
        ("unmerge", "zhaoq", None),
    ]
    r = op(client, "unmerge", audit_id=merge["id"], by="zhaoq", reason="twice")
    assert r.status_code == 409 and r.json()["field"] == "audit_id"


def test_decided_different_is_never_proposed_again(
    client: TestClient[Any], hub_store: HubStore, hub_home: HubHome
) -> None:
    a, b = enrolled(client, hub_store, "511321100"), enrolled(client, hub_store, "511321101")
    twin = {"sex": "1", "birth": "2015-06-01", "id_number": None, "id_number_missing": NO_ID}
    t1 = a.resident(name="张文杰", phone="13700001111", **twin)
    push(a, client, t1)
    t2 = b.resident(name="张文涛", phone="13700001111", **twin)
    push(b, client, t2)
    (item,) = review_queue(hub_store)
    r = CliRunner().invoke(
        rhip,
        [
            *("hub", "mpi", "decide", "--home", str(hub_home.path), "--item", str(item["id"])),
            *("--different", "--by", "wangli", "--reason", "twins: two birth certificates"),
        ],
    )
    assert r.exit_code == 0, r.output
    assert review_queue(hub_store) == []
    push(b, client, b.update(t2, phone="13700002222"))  # matched again: the twin is left out
    assert review_queue(hub_store) == []
    assert master_of(hub_store, t1["id"]) != master_of(hub_store, t2["id"])
    decided = review_queue(hub_store, status="decided")
    assert [(i["outcome"], i["why"]) for i in decided] == [("different", "twins: two birth certificates")]


def test_a_registration_alone_moves_to_the_master_it_now_matches(
    client: TestClient[Any], hub_store: HubStore, hub_home: HubHome
) -> None:
    """A card-less registration that later gets the person's identity number joins them, audited."""
    a, b = enrolled(client, hub_store, "511321100"), enrolled(client, hub_store, "511321101")
    number = id_number("1975-03-03", "1")
    ra = a.resident(name="孙立", birth="1975-03-03", id_number=number)
    push(a, client, ra)
    rb = b.resident(name="钱多多", birth="1999-01-01", id_number=None, id_number_missing=NO_ID)
    push(b, client, rb)
    assert master_of(hub_store, rb["id"]) != master_of(hub_store, ra["id"])
    push(b, client, b.update(rb, name="孙立", birth_date="1975-03-03", id_number=number))
    assert master_of(hub_store, rb["id"]) == master_of(hub_store, ra["id"])
    (entry,) = show_master(hub_store, master_of(hub_store, ra["id"]))["history"]
    assert (entry["action"], entry["actor"]) == ("auto-link", "ingest")
    assert links(feed(a, client, hub_home))[-1]["linked"] == [{"resident_id": rb["id"], "node_id": b.node_id}]


def test_console_refusals_name_the_field_and_stay_on_loopback(
    client: TestClient[Any], hub_store: HubStore, hub_home: HubHome
) -> None:
    a, _b, ra, _rb = _two_apart(client, hub_store)
    cases = [
        (op(client, "link", resident_id=ra["id"], master_id="nope", by="w", reason="x"), 404, "master_id"),
        (op(client, "link", resident_id="nope", master_id="x", by="w", reason="x"), 404, "resident_id"),
        (op(client, "link", resident_id=ra["id"], master_id="x", reason="x"), 400, "by"),
        (op(client, "unlink", resident_id=ra["id"], by="w", reason="x"), 409, "resident_id"),
        (op(client, "unmerge", by="w", reason="x"), 409, "audit_id"),
        (client.post("/api/v1/mpi/review/99/decide", content=b'{"decision": "maybe"}'), 400, "decision"),
        (client.post("/api/v1/mpi/link", content=b"[1]"), 400, "body"),
        (client.get("/api/v1/mpi/masters/nope"), 404, "master_id"),
    ]
    for r, status, field in cases:
        assert (r.status_code, r.json().get("field")) == (status, field), r.text
        assert set(r.json()) >= {"status_code", "detail", "reason"}
    with TestClient(app=make_app(hub_home, hub_store, operator_hosts=frozenset({"127.0.0.1"}))) as far:
        assert far.get("/api/v1/mpi/review").status_code == 403
        r = far.post("/api/v1/mpi/unlink", content=b"{}")
        assert r.status_code == 403 and r.json()["reason"] == "forbidden"
    assert links(feed(a, client, hub_home)) == []


def test_cli_link_show_merge_unmerge(client: TestClient[Any], hub_store: HubStore, hub_home: HubHome) -> None:
    a, b, ra, rb = _two_apart(client, hub_store)
    home = str(hub_home.path)
    keep, gone = master_of(hub_store, ra["id"]), master_of(hub_store, rb["id"])

    def cli(*args: str) -> Any:
        return CliRunner().invoke(rhip, ["hub", "mpi", *args, "--home", home], catch_exceptions=False)

    r = cli("link", "--resident", rb["id"], "--master", keep, "--by", "wangli", "--reason", "same man")
    assert r.exit_code == 0 and f"linked {rb['id']} to master person {keep}" in r.output
    r = cli("show", "--master", keep, "--json")
    view = json.loads(r.output)
    assert sorted(x["resident_id"] for x in view["registrations"]) == sorted([ra["id"], rb["id"]])
    assert [x["linked_by"] for x in view["registrations"] if x["resident_id"] == rb["id"]] == ["operator"]
    r = cli("unlink", "--resident", rb["id"], "--by", "wangli", "--reason", "no")
    assert r.exit_code == 0
    fresh = master_of(hub_store, rb["id"])
    r = cli("merge", "--master", keep, "--other", fresh, "--by", "wangli", "--reason", "yes after all")
    assert r.exit_code == 0 and "unmerge --audit" in r.output
    audit = r.output.split("--audit ")[1].split("`")[0]
    r = cli("unmerge", "--audit", audit, "--by", "wangli", "--reason", "no after all")
    assert r.exit_code == 0 and master_of(hub_store, rb["id"]) == fresh
    r = cli("show", "--master", keep)
    assert r.exit_code == 0 and "merge by wangli: yes after all" in r.output
    r = CliRunner().invoke(rhip, ["hub", "mpi", "unlink", "--home", home, "--resident", "x", "--by", "w"])
    assert r.exit_code != 0 and "--reason" in r.output
    r = CliRunner().invoke(
        rhip,
        [
            "hub",
            "mpi",
            "link",
            "--home",
            home,
            "--resident",
            "x",
            "--master",
            keep,
            "--by",
            "w",
            "--reason",
            "r",
        ],
    )
    assert r.exit_code != 0 and "no registration x" in r.output and "(--resident)" in r.output
    r = cli("weights")
    assert r.exit_code == 0 and "estimated from 2 registration(s)" in r.output
    del gone, a, b


# -- the database ------------------------------------------------------------------------------------------


def test_a_hub_made_before_the_master_index_is_migrated_with_its_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "hub.db"
    monkeypatch.setattr(hub_db, "MIGRATIONS", hub_db.MIGRATIONS[:1])
    old = hub_db.Database(path)
    number = id_number("1970-05-12", "1")
    fields = {
        "r1": resident_data("张三", id_number=number),
        "r2": resident_data("张叁", id_number=number),
        "r3": resident_data("李四", birth="1990-01-01", id_number=None, id_number_missing=NO_ID),
    }
    with old.write() as conn:
        conn.execute("INSERT INTO masters (master_id, id_number, created_ms) VALUES ('M1', ?, 1)", (number,))
        for rid, body in fields.items():
            master = "M1" if rid != "r3" else None
            conn.execute(
                "INSERT INTO residents (resident_id, node_id, master_id, first_seen_ms) "
                "VALUES (?, 'n', ?, 1)",
                (rid, master),
            )
            for field, value in schemas.validate("resident", body).items():
                conn.execute(
                    "INSERT INTO resident_fields (resident_id, field, value, hlc, author, record_id) "
                    "VALUES (?, ?, ?, 1, 'n', ?)",
                    (rid, field, json.dumps(value, ensure_ascii=False), rid),
                )
    old.close()
    monkeypatch.undo()
    db = hub_db.Database(path)
    try:
        assert db.applied_migrations() == [m[0] for m in hub_db.MIGRATIONS]
        conn = db.writer
        rows = dict(conn.execute("SELECT resident_id, master_id FROM residents").fetchall())
        assert rows["r1"] == rows["r2"] == "M1" and rows["r3"] not in (None, "M1")
        assert {r[0] for r in conn.execute("SELECT master_id FROM masters")} == {"M1", rows["r3"]}
        index = MasterIndex(conn)
        assert sorted(index.members("M1")) == ["r1", "r2"]
        again = index.match(Registration.from_resident("r9", schemas.validate("resident", fields["r1"])))
        assert (again.outcome.value, again.master_id) == ("link", "M1")
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()
