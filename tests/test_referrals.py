"""Two-way referral and remote consultation between two real clinic nodes through a real hub.

The nodes (store, sync client, API) and the hub app run in this process, joined at the transport
seam (``conftest.HubTransport``): a township clinic refers up, the county hospital accepts and
refers back with results and its discharge summary; a consultation is asked and answered; either
side works offline and nothing is lost. Nothing here asserts on the time. SYNTHETIC DATA ONLY.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from click.testing import CliRunner

from cli import rhip
from hub import HubStore
from node import SyncError, audit_entries

from . import test_shared
from .conftest import id_number
from .test_record_types import EXAMPLES
from .test_shared import Node, _register

# The real hub and clinic nodes of test_shared, as fixtures here.
client, clock, hub_home, hub_store, nodes = (
    test_shared.client,
    test_shared.clock,
    test_shared.hub_home,
    test_shared.hub_store,
    test_shared.nodes,
)

TOWNSHIP, HOSPITAL, OTHER = "511321100", "511321102", "511321101"
NUMBER = id_number("1962-04-18", "2")


def referral(resident_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "resident_id": resident_id,
        "to_clinic": HOSPITAL,
        "reason": "血压控制不佳，需进一步检查",
        "preliminary_diagnoses": EXAMPLES["referral"]()["preliminary_diagnoses"],
        **extra,
    }


def listed(n: Node, what: str, query: str = "", role: str = "doctor") -> list[dict[str, Any]]:
    r = n.get(f"/api/v1/{what}{query}", role)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()[what]
    return items


def sync(*ns: Node) -> None:
    for n in ns:
        n.sync.round()


def records(n: Node) -> int:
    return n.store.counts()["records"]


@pytest.fixture
def pair(nodes: Callable[[str], Node]) -> tuple[Node, Node, str]:
    """The township clinic (with a resident registered) and the county hospital, both enrolled."""
    town, hospital = nodes(TOWNSHIP), nodes(HOSPITAL)
    return town, hospital, _register(town, id_number=NUMBER)


def test_a_referral_goes_up_is_accepted_and_comes_back_with_results_and_the_discharge_summary(
    pair: tuple[Node, Node, str], hub_store: HubStore
) -> None:
    town, hospital, resident = pair
    r = town.post("/api/v1/referrals", "doctor", referral(resident, urgency="urgent"))
    assert r.status_code == 201, r.text
    ref = r.json()["id"]
    (out,) = listed(town, "referrals", "?direction=out")
    assert (out["id"], out["status"], out["to_clinic"], out["from_clinic"]) == (
        ref,
        "sent",
        HOSPITAL,
        TOWNSHIP,
    )
    assert listed(hospital, "referrals") == []

    sync(town, hospital)
    (incoming,) = listed(hospital, "referrals", "?direction=in")
    assert (incoming["id"], incoming["status"], incoming["urgency"]) == (ref, "sent", "urgent")
    assert incoming["resident"]["name"] == "李秀兰" and incoming["resident_id"] == resident
    assert listed(hospital, "referrals", "?direction=out") == []

    r = hospital.post(f"/api/v1/referrals/{ref}/accept", "doctor", {})
    assert r.status_code == 201, r.text
    assert [i["status"] for i in listed(hospital, "referrals", "?status=accepted")] == ["accepted"]
    sync(hospital, town)
    (out,) = listed(town, "referrals", "?direction=out")
    assert out["status"] == "accepted" and out["response"]["decision"] == "accepted"

    # Admitted: the hospital registers the resident (linked by the hub), treats and discharges.
    admitted = _register(hospital, id_number=NUMBER)
    sync(hospital, hospital)
    summary = hospital.store.add_record(
        admitted, "discharge_summary", EXAMPLES["discharge_summary"](), user="dr"
    )
    r = hospital.post(
        f"/api/v1/referrals/{ref}/back",
        "doctor",
        {"results": "血压已控制，转回社区随访", "discharge_summary_id": summary.id},
    )
    assert r.status_code == 201, r.text
    back = r.json()["record"]
    assert back["data"]["to_clinic"] == TOWNSHIP and back["data"]["referral_id"] == ref
    assert listed(town, "referrals")[0]["status"] == "accepted", "nothing arrives before a sync"

    sync(hospital, town)
    (out,) = listed(town, "referrals", "?status=back")
    assert out["back"]["results"] == "血压已控制，转回社区随访"
    assert out["back"]["discharge_summary"]["record_id"] == summary.id
    assert out["back"]["discharge_summary"]["discharge_diagnoses"]
    assert hub_store.held() == []

    r = town.post(f"/api/v1/referrals/{ref}/close", "doctor", {})
    assert r.status_code == 201, r.text
    sync(town, hospital)
    assert [i["status"] for i in listed(town, "referrals")] == ["closed"]
    assert [i["status"] for i in listed(hospital, "referrals")] == ["closed"]
    entry = next(e for e in audit_entries(town.store.db) if e["action"] == "read:referrals")
    assert entry["user"] == "doctor" and entry["detail"]["records"] == [ref]


def test_a_declined_referral_says_why_at_both_ends(pair: tuple[Node, Node, str]) -> None:
    town, hospital, resident = pair
    ref = town.post("/api/v1/referrals", "doctor", referral(resident)).json()["id"]
    sync(town, hospital)
    r = hospital.post(f"/api/v1/referrals/{ref}/decline", "doctor", {"reason": "床位已满"})
    assert r.status_code == 201, r.text
    sync(hospital, town)
    (out,) = listed(town, "referrals", "?status=declined")
    assert (out["response"]["decision"], out["response"]["reason"]) == ("declined", "床位已满")
    r = hospital.post(f"/api/v1/referrals/{ref}/back", "doctor", {"results": "未收治"})
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "id"


def test_a_consultation_is_answered_by_the_other_clinics_doctor(pair: tuple[Node, Node, str]) -> None:
    town, hospital, resident = pair
    r = town.post(
        "/api/v1/consultations",
        "doctor",
        {"resident_id": resident, "consulting_clinic": HOSPITAL, "question": "胸片示右下肺阴影，请协助诊断"},
    )
    assert r.status_code == 201, r.text
    asked = r.json()["id"]
    sync(town, hospital)
    (incoming,) = listed(hospital, "consultations", "?direction=in&status=requested")
    assert (incoming["id"], incoming["question"], incoming["resident"]["name"]) == (
        asked,
        "胸片示右下肺阴影，请协助诊断",
        "李秀兰",
    )
    r = hospital.post(f"/api/v1/consultations/{asked}/answer", "doctor", {"answer": "考虑社区获得性肺炎"})
    assert r.status_code == 201, r.text
    answer = r.json()["record"]
    assert (answer["fact_id"], answer["supersedes"]) == (asked, asked)
    r = hospital.post(f"/api/v1/consultations/{answer['id']}/answer", "doctor", {"answer": "again"})
    assert r.status_code == 409

    sync(hospital, town)
    (out,) = listed(town, "consultations", "?direction=out")
    assert (out["status"], out["answer"], out["fact_id"]) == ("answered", "考虑社区获得性肺炎", asked)
    assert listed(town, "consultations", "?status=requested") == []
    assert listed(hospital, "consultations", "?direction=in")[0]["status"] == "answered"


def test_either_side_offline_loses_nothing(pair: tuple[Node, Node, str]) -> None:
    town, hospital, resident = pair
    town.link.down = True
    ref = town.post("/api/v1/referrals", "doctor", referral(resident)).json()["id"]
    with pytest.raises(SyncError):
        town.sync.round()
    town.link.down = False
    sync(town, hospital)
    # The hospital, cut off, still accepts; the township asks a consultation meanwhile.
    hospital.link.down = True
    assert hospital.post(f"/api/v1/referrals/{ref}/accept", "doctor", {}).status_code == 201
    asked = town.post(
        "/api/v1/consultations",
        "doctor",
        {"resident_id": resident, "consulting_clinic": HOSPITAL, "question": "请会诊"},
    ).json()["id"]
    sync(town)
    with pytest.raises(SyncError):
        hospital.sync.round()
    assert hospital.store.outbox_pending() == 1
    assert listed(town, "referrals")[0]["status"] == "sent"

    hospital.link.down = False
    sync(hospital, town)
    assert hospital.store.outbox_pending() == 0 and town.store.outbox_pending() == 0
    assert listed(town, "referrals")[0]["status"] == "accepted"
    assert [c["id"] for c in listed(hospital, "consultations", "?direction=in")] == [asked]


def test_only_doctors_act_and_clerks_do_not_read(pair: tuple[Node, Node, str]) -> None:
    town, hospital, resident = pair
    before = records(town)
    assert town.post("/api/v1/referrals", "nurse", referral(resident)).status_code == 403
    assert town.get("/api/v1/referrals", "clerk").status_code == 403
    assert town.get("/api/v1/consultations", "clerk").status_code == 403
    assert town.get("/api/v1/referrals", "nurse").status_code == 200
    ref = town.post("/api/v1/referrals", "doctor", referral(resident)).json()["id"]
    sync(town, hospital)
    assert hospital.post(f"/api/v1/referrals/{ref}/accept", "nurse", {}).status_code == 403
    assert records(town) == before + 1
    denied = [e for e in audit_entries(town.store.db) if e["action"].startswith("denied:")]
    assert {e["user"] for e in denied} == {"nurse", "clerk"}


def test_bad_input_names_the_field_and_stores_nothing(pair: tuple[Node, Node, str]) -> None:
    town, hospital, resident = pair

    def refused(n: Node, path: str, body: dict[str, Any], status: int, field: str) -> None:
        before = records(n)
        r = n.post(path, "doctor", body)
        assert r.status_code == status, r.text
        assert field in [e["field"] for e in r.json()["errors"]], r.json()
        assert records(n) == before

    refused(town, "/api/v1/referrals", {**referral(resident), "to_clinic": TOWNSHIP}, 422, "to_clinic")
    refused(
        town,
        "/api/v1/referrals",
        {k: v for k, v in referral(resident).items() if k != "reason"},
        422,
        "reason",
    )
    refused(town, "/api/v1/referrals", referral(resident, direction="back"), 400, "direction")
    refused(town, "/api/v1/referrals", {"to_clinic": HOSPITAL, "reason": "x"}, 400, "resident_id")
    r = town.post("/api/v1/referrals", "doctor", referral("no-such-resident"))
    assert r.status_code == 404
    refused(
        town,
        "/api/v1/consultations",
        {"resident_id": resident, "consulting_clinic": HOSPITAL, "question": "q", "answer": "a"},
        400,
        "answer",
    )
    assert town.get("/api/v1/referrals?direction=sideways").json()["errors"][0]["field"] == "direction"
    assert town.get("/api/v1/consultations?status=done").json()["errors"][0]["field"] == "status"

    ref = town.post("/api/v1/referrals", "doctor", referral(resident)).json()["id"]
    refused(town, f"/api/v1/referrals/{ref}/accept", {}, 409, "id")  # sent from here, not to here
    refused(town, f"/api/v1/referrals/{ref}/close", {}, 409, "id")  # not back yet
    sync(town, hospital)
    refused(hospital, f"/api/v1/referrals/{ref}/decline", {}, 400, "reason")
    refused(hospital, f"/api/v1/referrals/{ref}/back", {"results": "好转"}, 409, "id")  # not accepted
    assert hospital.post(f"/api/v1/referrals/{ref}/accept", "doctor", {}).status_code == 201
    refused(hospital, f"/api/v1/referrals/{ref}/accept", {}, 409, "id")  # answered once
    refused(hospital, f"/api/v1/referrals/{ref}/back", {}, 400, "results")
    refused(
        hospital,
        f"/api/v1/referrals/{ref}/back",
        {"results": "好转", "discharge_summary_id": EXAMPLES["referral"]()["to_clinic"]},
        422,
        "discharge_summary_id",
    )
    assert hospital.post("/api/v1/referrals/nope/accept", "doctor", {}).status_code == 404


def test_the_command_line_refers_accepts_and_lists(pair: tuple[Node, Node, str]) -> None:
    town, hospital, resident = pair

    def rhip_(n: Node, *args: str) -> Any:
        return CliRunner().invoke(rhip, [*args[:2], "--home", str(n.home.path), *args[2:]])

    r = rhip_(
        town, "referral", "send", "--user", "nurse", "--resident", resident, "--to", HOSPITAL, "--reason", "x"
    )
    assert r.exit_code != 0 and "may not referral.act" in r.output
    r = rhip_(
        town, "referral", "send", "--user", "doctor", "--resident", resident, "--to", HOSPITAL,
        "--reason", "血压控制不佳", "--diagnosis", "I10", "--json",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    ref = json.loads(r.output)["id"]
    sync(town, hospital)
    r = rhip_(hospital, "referral", "accept", "--user", "doctor", "--referral", ref)
    assert r.exit_code == 0 and ref not in r.output, r.output  # prints the response's id
    r = rhip_(hospital, "referral", "accept", "--user", "doctor", "--referral", ref)
    assert r.exit_code != 0 and "answered once" in r.output
    r = rhip_(hospital, "referral", "list", "--user", "nurse", "--direction", "in", "--json")
    assert [(i["id"], i["status"]) for i in json.loads(r.output)] == [(ref, "accepted")]
    r = rhip_(
        town,
        "consult",
        "ask",
        "--user",
        "doctor",
        "--resident",
        resident,
        "--to",
        HOSPITAL,
        "--question",
        "请会诊",
    )
    assert r.exit_code == 0, r.output
    sync(town, hospital)
    (asked,) = json.loads(rhip_(hospital, "consult", "list", "--user", "doctor", "--json").output)
    r = rhip_(
        hospital,
        "consult",
        "answer",
        "--user",
        "doctor",
        "--consultation",
        asked["id"],
        "--answer",
        "建议复查",
    )
    assert r.exit_code == 0, r.output
    sync(hospital, town)
    r = rhip_(town, "consult", "list", "--user", "doctor", "--status", "answered")
    assert "请会诊" in r.output and asked["id"] not in r.output  # the answer is the current version
    assert any(e["action"] == "read:consultations" for e in audit_entries(town.store.db))
