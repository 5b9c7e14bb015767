"""``rhip desk …``: a whole visit from the command line on a real node home, as each role.

SYNTHETIC DATA ONLY.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli import rhip
from node import HubConfig, NodeHome, audit_entries, init_home
from node._synth import fill, fill_queue

from .cardkit import Issuer
from .conftest import encounter_data
from .test_desk import card_of, rx

ROLES = ("clerk", "doctor", "nurse", "pharmacist", "admin")


def run(*args: str) -> Any:
    return CliRunner().invoke(rhip, list(args), catch_exceptions=False)


@pytest.fixture
def clinic(tmp_path: Path, password_hash: str) -> tuple[NodeHome, Issuer]:
    home = init_home(tmp_path / "clinic", clinic="511321100", name="南隆镇卫生院")
    issuer = Issuer()
    HubConfig("http://hub.test", "hub-1", "511321", issuer.trust.hex()).save(
        home.path
    )  # enrolled: trusts cards
    db = home.database()
    with db.write() as conn:
        for role in ROLES:
            conn.execute(
                "INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, '2026-01-01')",
                (role, role, password_hash),
            )
    db.close()
    return home, issuer


def desk(home: NodeHome, command: str, user: str, *args: str) -> dict[str, Any]:
    r = run("desk", command, "--home", str(home.path), "--user", user, *args, "--json")
    assert r.exit_code == 0, r.output
    out: dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
    return out


def test_a_whole_visit_from_the_command_line(clinic: tuple[NodeHome, Issuer], tmp_path: Path) -> None:
    home, issuer = clinic
    content, image = card_of(issuer)
    card = tmp_path / "card.json"
    image.save(card)
    h = str(home.path)

    holder = desk(home, "register-card", "clerk", "--card-image", str(card))
    assert holder["created"] and holder["provisional"]
    visit = desk(home, "checkin", "clerk", "--card-image", str(card), "--department", "general")["visit"]
    vid = visit["visit_id"]
    assert visit["resident_id"] == holder["resident_id"] and visit["queue_number"] == 1
    desk(
        home,
        "triage",
        "nurse",
        "--visit",
        vid,
        "--vitals",
        '{"temperature_c": 38.1}',
        "--workstation",
        "分诊台",
    )
    desk(home, "call", "doctor", "--visit", vid)
    plan = tmp_path / "consult.json"
    encounter = {k: v for k, v in encounter_data().items() if k not in ("visit_time", "charges")}
    plan.write_text(
        json.dumps(
            {
                "encounter": encounter,
                "prescriptions": [rx(("amoxicillin_250mg_cap", 2))],
                "orders": [{"service": "cbc"}],
            }
        ),
        encoding="utf-8",
    )
    consulted = desk(home, "consult", "doctor", "--visit", vid, "--file", str(plan))["visit"]
    assert consulted["step"] == "awaiting_payment"

    # the pharmacy cannot hand over what is not paid, and a pharmacist cannot take the money
    r = run(
        "desk",
        "dispense",
        "--home",
        h,
        "--user",
        "pharmacist",
        "--visit",
        vid,
        "--prescription",
        consulted["drugs"][0]["prescription_id"],
    )
    assert r.exit_code == 1 and "item 0 is not paid" in r.output
    r = run("desk", "pay", "--home", h, "--user", "pharmacist", "--visit", vid, "--method", "cash")
    assert r.exit_code == 1 and "role pharmacist may not desk.charge" in r.output
    r = run(
        "desk", "pay", "--home", h, "--user", "clerk", "--visit", vid, "--method", "cash", "--expect", "1.00"
    )
    assert r.exit_code == 1 and "expected_total_fen: the bill is now" in r.output

    bill = desk(home, "bill", "clerk", "--visit", vid)
    expect = f"{bill['total_fen'] // 100}.{bill['total_fen'] % 100:02d}"
    paid = desk(home, "pay", "clerk", "--visit", vid, "--method", "cash", "--expect", expect)
    assert paid["payment"]["insurance_fen"] == bill["insurance_fen"] > 0
    r = run("desk", "pay", "--home", h, "--user", "clerk", "--visit", vid, "--method", "cash")
    assert r.exit_code == 1 and "nothing is due" in r.output

    rx_id = consulted["drugs"][0]["prescription_id"]
    desk(
        home,
        "dispense",
        "pharmacist",
        "--visit",
        vid,
        "--prescription",
        rx_id,
        "--item",
        "0:1",
        "--note",
        "缺货",
    )
    desk(home, "dispense", "pharmacist", "--visit", vid, "--prescription", rx_id)
    orders = desk(home, "worklist", "nurse", "--kind", "lab")["orders"]
    assert [o["visit_id"] for o in orders] == [vid]
    desk(home, "collect", "nurse", "--order", orders[0]["order_id"])
    report = tmp_path / "cbc.json"
    report.write_text(
        json.dumps({"items": [{"name": "白细胞计数", "value": 6.1, "unit": "10^9/L"}]}), encoding="utf-8"
    )
    done = desk(
        home,
        "result",
        "nurse",
        "--order",
        orders[0]["order_id"],
        "--type",
        "lab_report",
        "--file",
        str(report),
    )
    assert done["visit"]["step"] == "paid"
    assert desk(home, "finish", "clerk", "--visit", vid)["visit"]["step"] == "done"

    queue = desk(home, "queue", "pharmacist")["visits"]
    assert [(v["visit_id"], v["step"], v["resident"]["name"]) for v in queue] == [
        (vid, "done", content.holder.name)
    ]
    shown = desk(home, "show", "doctor", "--visit", vid)
    assert [e["kind"] for e in shown["events"]] == [
        "visit",
        "triaged",
        "called",
        "consulted",
        "payment",
        "dispense",
        "dispense",
        "collected",
        "reported",
        "finished",
    ]
    text = run("desk", "queue", "--home", h, "--user", "clerk")
    assert text.exit_code == 0 and "王秀英" in text.output and "done" in text.output
    db = home.database()
    try:
        actions = [(e["user"], e["action"]) for e in audit_entries(db, resident_id=visit["resident_id"])]
        denied = [(e["user"], e["action"]) for e in audit_entries(db) if e["action"].startswith("denied")]
    finally:
        db.close()
    assert ("clerk", "desk:payment") in actions and ("doctor", "read:visit") in actions
    assert ("pharmacist", "denied:desk.charge") in denied


def test_refund_and_cancel_from_the_command_line(clinic: tuple[NodeHome, Issuer], tmp_path: Path) -> None:
    home, issuer = clinic
    _, image = card_of(issuer)
    card = tmp_path / "card.json"
    image.save(card)
    h = str(home.path)
    vid = desk(home, "checkin", "clerk", "--card-image", str(card), "--department", "tcm")["visit"][
        "visit_id"
    ]
    paid = desk(home, "pay", "clerk", "--visit", vid, "--method", "wechat")["payment"]
    r = run("desk", "cancel", "--home", h, "--user", "clerk", "--visit", vid, "--reason", "改日")
    assert r.exit_code == 1 and "refund it before cancelling" in r.output
    back = desk(home, "refund", "clerk", "--payment", paid["payment_id"], "--reason", "退号")
    assert back["to_resident_fen"] == paid["self_fen"] and back["resettled"] is None
    assert desk(home, "cancel", "clerk", "--visit", vid, "--reason", "退号")["visit"]["step"] == "cancelled"
    r = run(
        "desk",
        "refund",
        "--home",
        h,
        "--user",
        "clerk",
        "--payment",
        paid["payment_id"],
        "--reason",
        "x",
        "--line",
        "drug",
    )
    assert r.exit_code == 2 and "SOURCE:REF" in r.output
    r = run("desk", "queue", "--home", h, "--user", "admin")
    assert r.exit_code == 1 and "role admin may not desk.queue" in r.output
    r = run("desk", "queue", "--home", h, "--user", "nobody")
    assert r.exit_code == 1 and "no active account" in r.output
    r = run("desk", "checkin", "--home", h, "--user", "clerk", "--department", "general")
    assert r.exit_code == 2 and "--resident" in r.output


def test_a_demo_queue_at_every_step(tmp_path: Path) -> None:
    home = init_home(tmp_path / "demo", clinic="511321100", name="南隆镇卫生院")
    db = home.database()
    store = home.store(db)
    try:
        fill(store, residents=120, years=1, seed=3)
        steps = fill_queue(store, clinic=home.clinic, visits=8, seed=3)
        again = [s.step.value for s in _queue(home, store)]
    finally:
        db.close()
    assert sorted(steps) == sorted(again)
    assert {"registered", "waiting", "in_consultation", "awaiting_payment", "done", "cancelled"} <= set(steps)
    assert len(steps) == 8


def _queue(home: NodeHome, store: Any) -> list[Any]:
    from node import Desk

    return Desk(store, clinic=home.clinic).queue()
