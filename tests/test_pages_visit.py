"""The pages of a visit through the real app, as the staff at each workstation use them: check-in,
triage, the consulting room, the cashier, the pharmacy, the examinations and the end of the visit.

Each step taken on a page must leave the same records and audit entries as the desk API
(``tests/test_desk.py``) except ``detail.via``. SYNTHETIC DATA ONLY.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import TestClient

import schemas
from node import NodeStore, audit_entries
from node._pages_views import mask_id
from schemas import RecordEnvelope

from .conftest import PASSWORD, auth, resident_data
from .test_record_types import EXAMPLES

DRUG = "amoxicillin_250mg_cap"
VITALS = {
    "temperature_c": "38.4",
    "systolic": "128",
    "diastolic": "82",
    "pulse": "92",
    "respiration": "20",
    "spo2": "97",
    "weight_kg": "61.5",
    "height_cm": "165",
}
RX_FORM = {
    f"rx.{DRUG}": "1",
    f"rx.{DRUG}.dose": "0.5",
    f"rx.{DRUG}.dose_unit": "g",
    f"rx.{DRUG}.route": "po",
    f"rx.{DRUG}.frequency": "tid",
    f"rx.{DRUG}.days": "3",
    f"rx.{DRUG}.quantity": "2",
}


def login(client: TestClient[Any], user: str) -> None:
    client.cookies.clear()
    r = client.post(
        "/login", data={"user": user, "password": PASSWORD, "next": "/desk"}, follow_redirects=False
    )
    assert r.status_code == 303, r.text


def register(store: NodeStore, **kw: Any) -> dict[str, Any]:
    reg = store.register_resident(resident_data(**kw), user="clerk")
    return store.resident(reg.envelope.id)


def add_allergy(store: NodeStore, resident_id: str) -> None:
    store.add_record(resident_id, "allergy", EXAMPLES["allergy"](), user="doctor")


def consultation_form(**extra: str) -> dict[str, str]:
    return {
        "chief_complaint": "发热、咳嗽2天",
        "physical_exam": "咽部充血",
        "diagnosis.J06.9": "1",
        **RX_FORM,
        "order.cbc": "1",
        "urgency": "routine",
        "action": "save",
        **extra,
    }


def field_error(html: str, name: str) -> str:
    """The problem shown beside a form field."""
    found = re.search(
        rf'<span class="field-error" id="{re.escape(name)}-error">(.*?)</span></span>', html, re.S
    )
    assert found is not None, f"no error beside {name}"
    return re.sub(r"<[^>]+>", "", found.group(1))


def desk_records(store: NodeStore, resident_id: str) -> list[RecordEnvelope]:
    kinds = ["visit", "visit_step", "encounter", "prescription", "service_order", "payment", "dispense"]
    return store.records_of(resident_id, types=[*kinds, "lab_report"])


def types_of(store: NodeStore, resident_id: str) -> list[str]:
    return sorted(r.type for r in desk_records(store, resident_id))


def post(client: TestClient[Any], path: str, data: dict[str, str]) -> Any:
    return client.post(path, data=data, follow_redirects=False)


def checked_in(client: TestClient[Any], resident_id: str) -> str:
    login(client, "clerk")
    r = post(client, "/visits/new", {"resident_id": resident_id, "department": "general", "scheme": ""})
    assert r.status_code == 303, r.text
    return str(r.headers["location"].removeprefix("/visits/"))


def consulted(client: TestClient[Any], resident_id: str) -> str:
    vid = checked_in(client, resident_id)
    login(client, "doctor")
    r = post(client, f"/visits/{vid}/consultation", consultation_form())
    assert r.status_code == 303, r.text
    return vid


def paid(client: TestClient[Any], vid: str) -> None:
    login(client, "clerk")
    total = re.search(r'name="expected_total_fen" value="(\d+)"', client.get(f"/visits/{vid}").text)
    assert total is not None
    r = post(client, f"/visits/{vid}/pay", {"method": "cash", "expected_total_fen": total.group(1)})
    assert r.status_code == 303, r.text


def visit_step(client: TestClient[Any], vid: str) -> str:
    found = re.search(r'id="visit-step" data-step="(\w+)"', client.get(f"/visits/{vid}").text)
    assert found is not None
    return found.group(1)


def comparable(env: RecordEnvelope) -> dict[str, Any]:
    """A record's data without what differs between two visits (times, ids, queue numbers)."""
    drop = {
        "visit_time",
        "prescribed_at",
        "ordered_at",
        "registered_at",
        "paid_at",
        "at",
        "visit_id",
        "encounter_id",
        "prescription_ids",
        "order_ids",
        "queue_number",
        "receipt_number",
        "lines",
        "dispensed_at",
        "prescription_id",
    }
    return {k: v for k, v in env.data.items() if k not in drop}


# -- the whole visit ----------------------------------------------------------------------------------


def test_a_whole_visit_through_the_pages_by_each_workstation(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store, name="张三", insurance_number="R5113210042")
    add_allergy(store, zhang["id"])
    rid = zhang["id"]

    # The clerk opens the resident: the visit panel offers the check-in.
    login(client, "clerk")
    assert 'hx-get="/residents/' in client.get(f"/residents/{rid}").text
    panel = client.get(f"/residents/{rid}/visit").text
    assert (
        "今天未挂号" in panel
        and 'action="/visits/new"' in panel
        and '<option value="general">全科</option>' in panel
    )
    r = post(client, "/visits/new", {"resident_id": rid, "department": "general", "scheme": ""})
    assert r.status_code == 303
    vid = r.headers["location"].removeprefix("/visits/")
    panel = client.get(f"/residents/{rid}/visit").text
    assert f'href="/visits/{vid}"' in panel and "1号" in panel and "已挂号" in panel
    [checkin] = [e for e in audit_entries(store.db, user="clerk") if e["action"] == "desk:checkin"]
    assert (checkin["record_id"], checkin["reason"], checkin["detail"]["via"]) == (vid, "care", "page")

    # The nurse triages from today's queue, the visit linked from its line.
    login(client, "nurse")
    assert f'href="/visits/{vid}"' in client.get("/queue").text
    page = client.get(f"/visits/{vid}").text
    assert "张三" in page and "青霉素" in page and 'id="allergies"' in page
    assert '<input id="temperature_c" name="temperature_c"' in page and "autofocus" in page
    assert post(client, f"/visits/{vid}/triage", VITALS).status_code == 303
    assert visit_step(client, vid) == "waiting"
    [triaged] = [r for r in desk_records(store, rid) if r.type == "visit_step"]
    assert triaged.data["vitals"] == {
        "temperature_c": 38.4,
        "systolic": 128,
        "diastolic": 82,
        "pulse": 92,
        "respiration": 20,
        "spo2": 97,
        "weight_kg": 61.5,
        "height_cm": 165.0,
    }

    # The doctor calls the resident in, finds the diagnosis by typing, prescribes and orders a blood count.
    login(client, "doctor")
    assert post(client, f"/visits/{vid}/call", {}).status_code == 303
    # What htmx sends as the doctor types in the search box: its name and value.
    hits = client.get("/codes/icd10", params={"icd10_q": "上呼吸道"}, headers={"HX-Request": "true"}).text
    assert "/codes/icd10/pick?code=J06.9" in hits
    assert "J06.9" in client.get("/codes/icd10", params={"q": "j06"}).text
    picked = client.get("/codes/icd10/pick", params={"code": "J06.9"}).text
    assert 'name="diagnosis.J06.9"' in picked and "checked" in picked
    assert DRUG in client.get("/codes/drug", params={"drug_q": "阿莫西林"}).text
    row = client.get("/codes/drug/pick", params={"code": DRUG}).text
    assert f'name="rx.{DRUG}.quantity"' in row and f'<label for="rx.{DRUG}.days">' in row
    r = post(client, f"/visits/{vid}/consultation", consultation_form())
    assert r.status_code == 303, r.text
    assert visit_step(client, vid) == "awaiting_payment"
    records = {r.type: r for r in desk_records(store, rid)}
    assert records["encounter"].data["diagnoses"] == [{"icd10": "J06.9", "primary": True}]
    assert records["encounter"].data["chief_complaint"] == "发热、咳嗽2天"
    assert records["prescription"].data["items"][0]["drug"] == DRUG
    assert records["prescription"].data["items"][0]["quantity"] == 2
    assert records["service_order"].data["service"] == "cbc"

    # The cashier sees the visit waiting, the bill as the desk computes it, and takes the payment.
    login(client, "clerk")
    assert f'href="/visits/{vid}#bill"' in client.get("/cashier").text
    lines, split = client.app.state.desk.quote(vid)
    page = client.get(f"/visits/{vid}").text
    yuan = schemas.fen_to_yuan
    assert f'id="bill-total">¥{yuan(split.total_fen)}<' in page
    assert f'id="bill-insurance">¥{yuan(split.insurance_fen)}<' in page
    assert f"¥{yuan(split.self_fen)}</strong>" in page and split.insurance_fen > 0
    assert len(re.findall(r'<tr class="bill-line">', page)) == len(lines) == 3
    paid(client, vid)
    page = client.get(f"/visits/{vid}").text
    [payment] = [r for r in desk_records(store, rid) if r.type == "payment"]
    assert payment.data["receipt_number"] in page and payment.data["total_fen"] == split.total_fen
    assert "Nobody" not in page and 'id="bill"' not in page
    assert "没有人在等待缴费" in client.get("/cashier").text

    # The pharmacist sees only the last four ID characters and hands over one pack, then the other.
    login(client, "pharmacist")
    masked = str(mask_id(zhang["id_number"]))
    listing = client.get("/pharmacy").text
    assert masked in listing and zhang["id_number"] not in listing
    page = client.get(f"/visits/{vid}").text
    assert zhang["id_number"] not in page and masked in page
    [rx_id] = re.findall(r'name="prescription_id" value="([^"]+)"', page)
    assert "0.5 克，口服，每日三次，共3天" in page  # how to take it, for the label
    assert (
        post(client, f"/visits/{vid}/dispense", {"prescription_id": rx_id, "qty.0": "1"}).status_code == 303
    )
    assert "1" in re.findall(
        r'name="qty.0" type="number" min="0" max="(\d+)"', client.get(f"/visits/{vid}").text
    )
    assert (
        post(client, f"/visits/{vid}/dispense", {"prescription_id": rx_id, "qty.0": "1"}).status_code == 303
    )
    assert visit_step(client, vid) == "exams_pending"

    # The nurse takes the blood and enters the result from the worklist.
    login(client, "nurse")
    worklist = client.get("/exams").text
    assert "血常规" in worklist and "张三" in worklist
    order_id = records["service_order"].id
    r = post(client, f"/exams/{order_id}/collect", {"next": "/exams"})
    assert r.status_code == 303 and r.headers["location"] == "/exams"
    form = client.get(f"/exams/{order_id}").text
    assert 'id="item.0.name"' in form
    result = {
        "item.0.name": "白细胞计数",
        "item.0.value": "11.2",
        "item.0.unit": "10^9/L",
        "item.0.reference_low": "3.5",
        "item.0.reference_high": "9.5",
    }
    assert post(client, f"/exams/{order_id}", result).status_code == 303
    lab = next(r for r in desk_records(store, rid) if r.type == "lab_report")
    assert lab.data["items"][0] == {
        "name": "白细胞计数",
        "value": 11.2,
        "unit": "10^9/L",
        "reference_low": 3.5,
        "reference_high": 9.5,
        "abnormal": "H",
    }
    assert (lab.data["panel_code"], lab.data["specimen"]) == ("CBC", "blood")
    assert "没有等待的检查" in client.get("/exams").text

    # The doctor finishes the visit: the fold says done.
    login(client, "doctor")
    page = client.get(f"/visits/{vid}").text
    assert 'id="finish-submit"' in page
    assert post(client, f"/visits/{vid}/finish", {}).status_code == 303
    assert visit_step(client, vid) == "done"
    assert client.app.state.desk.visit(vid).step.value == "done"
    steps = [e["action"] for e in audit_entries(store.db, resident_id=rid) if e["action"].startswith("desk:")]
    assert sorted(steps) == sorted(
        [
            "desk:checkin",
            "desk:triage",
            "desk:call",
            "desk:consultation",
            "desk:payment",
            "desk:dispense",
            "desk:dispense",
            "desk:collect",
            "desk:result",
            "desk:finish",
        ]
    )
    assert {
        e["detail"]["via"]
        for e in audit_entries(store.db, resident_id=rid)
        if e["action"].startswith("desk:")
    } == {"page"}


def test_the_pages_write_what_the_api_writes(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    by_page, by_api = register(store, name="张三"), register(store, name="李四")
    vid = consulted(client, by_page["id"])
    paid(client, vid)
    h = {role: auth(token) for role, token in staff_tokens.items()}
    r = client.post(
        "/api/v1/desk/checkin",
        json={"resident_id": by_api["id"], "department": "general"},
        headers=h["clerk"],
    )
    api_vid = r.json()["visit"]["visit_id"]
    body = {
        "encounter": {
            "chief_complaint": "发热、咳嗽2天",
            "physical_exam": "咽部充血",
            "diagnoses": [{"icd10": "J06.9", "primary": True}],
        },
        "prescriptions": [
            {
                "items": [
                    {
                        "drug": DRUG,
                        "dose": "0.5",
                        "dose_unit": "g",
                        "route": "po",
                        "frequency": "tid",
                        "days": 3,
                        "quantity": 2,
                    }
                ]
            }
        ],
        "orders": [{"service": "cbc", "urgency": "routine"}],
        "fees": [],
    }
    r = client.post(f"/api/v1/desk/visits/{api_vid}/consultation", json=body, headers=h["doctor"])
    assert r.status_code == 201, r.text
    r = client.post(f"/api/v1/desk/visits/{api_vid}/payments", json={"method": "cash"}, headers=h["clerk"])
    assert r.status_code == 201, r.text
    page_records = sorted((r.type, comparable(r)) for r in desk_records(store, by_page["id"]))
    api_records = sorted((r.type, comparable(r)) for r in desk_records(store, by_api["id"]))
    assert [t for t, _ in page_records] == [t for t, _ in api_records]
    for (kind, mine), (_, theirs) in zip(page_records, api_records, strict=True):
        assert mine == theirs, kind


# -- refused forms -------------------------------------------------------------------------------------


def test_check_in_without_a_department_comes_back_and_stores_nothing(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store)
    login(client, "clerk")
    r = post(
        client, "/visits/new", {"resident_id": zhang["id"], "department": "", "insurance_number": "NB-1"}
    )
    assert r.status_code == 422
    assert "is required" in field_error(r.text, "department") and 'value="NB-1"' in r.text
    r = post(
        client, "/visits/new", {"resident_id": zhang["id"], "department": "general", "scheme": "employee"}
    )
    assert r.status_code == 422 and "required" in field_error(r.text, "insurance_number")
    assert '<option value="employee" selected>' in r.text
    assert types_of(store, zhang["id"]) == []


def test_triage_with_bad_vitals_names_the_field_and_stores_nothing(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store)
    vid = checked_in(client, zhang["id"])
    login(client, "nurse")
    r = post(client, f"/visits/{vid}/triage", {**VITALS, "pulse": "ninety"})
    assert r.status_code == 422 and "number" in field_error(r.text, "pulse")
    assert 'value="ninety"' in r.text and 'value="38.4"' in r.text
    r = post(client, f"/visits/{vid}/triage", {**VITALS, "diastolic": "140"})
    assert r.status_code == 422 and "lower than systolic" in field_error(r.text, "diastolic")
    r = post(client, f"/visits/{vid}/triage", {**VITALS, "temperature_c": "51"})
    assert r.status_code == 422 and field_error(r.text, "temperature_c")
    assert types_of(store, zhang["id"]) == ["visit"]


def test_consultation_without_a_diagnosis_or_with_a_bad_dose_stores_nothing(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store)
    vid = checked_in(client, zhang["id"])
    login(client, "doctor")
    form = consultation_form()
    del form["diagnosis.J06.9"]
    r = post(client, f"/visits/{vid}/consultation", form)
    assert r.status_code == 422 and "diagnosis" in field_error(r.text, "diagnoses")
    assert "发热、咳嗽2天" in r.text
    assert re.search(rf'<input id="rx.{DRUG}.dose" name="rx.{DRUG}.dose"[^>]* value="0.5"', r.text)
    r = post(client, f"/visits/{vid}/consultation", consultation_form(**{f"rx.{DRUG}.dose": "-1"}))
    assert r.status_code == 422 and field_error(r.text, f"rx.{DRUG}.dose")
    assert 'name="diagnosis.J06.9" value="1" checked' in r.text
    r = post(client, f"/visits/{vid}/consultation", consultation_form(chief_complaint=" "))
    assert r.status_code == 422 and "required" in field_error(r.text, "chief_complaint")
    assert types_of(store, zhang["id"]) == ["visit"]


def test_find_without_scripts_offers_matches_and_stores_nothing(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store)
    vid = checked_in(client, zhang["id"])
    login(client, "doctor")
    page = client.get(f"/visits/{vid}").text
    consult = page.split('id="consultation"', 1)[1]
    # Enter in a field presses the form's first button: "Find", which never stores.
    assert re.findall(r'<button type="submit" name="action" value="(\w+)"', consult)[0] == "find"
    form = {"chief_complaint": "头晕", "icd10_q": "I10", "drug_q": "氨氯地平", "action": "find"}
    r = post(client, f"/visits/{vid}/consultation", form)
    assert r.status_code == 200
    assert 'name="diagnosis.I10" value="1">' in r.text  # offered, not ticked
    assert 'name="rx.amlodipine_5mg_tab" value="1">' in r.text and "头晕" in r.text
    assert types_of(store, zhang["id"]) == ["visit"]


def test_payment_dispensing_and_results_refused_come_back_named(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store)
    vid = consulted(client, zhang["id"])
    login(client, "clerk")
    r = post(client, f"/visits/{vid}/pay", {"method": "bitcoin"})
    assert r.status_code == 422 and "payment method" in field_error(r.text, "method")
    r = post(client, f"/visits/{vid}/pay", {"method": "cash", "expected_total_fen": "1"})
    assert r.status_code == 409 and "quote again" in r.text
    assert "payment" not in types_of(store, zhang["id"])
    paid(client, vid)
    login(client, "pharmacist")
    [rx_id] = re.findall(r'name="prescription_id" value="([^"]+)"', client.get(f"/visits/{vid}").text)
    r = post(client, f"/visits/{vid}/dispense", {"prescription_id": rx_id, "qty.0": "two"})
    assert r.status_code == 422 and "whole number" in field_error(r.text, "qty.0")
    r = post(client, f"/visits/{vid}/dispense", {"prescription_id": rx_id, "qty.0": "5"})
    assert r.status_code == 409 and "only 2 are paid" in field_error(r.text, "qty.0")
    assert "dispense" not in types_of(store, zhang["id"])
    login(client, "nurse")
    order = next(r for r in desk_records(store, zhang["id"]) if r.type == "service_order")
    r = post(client, f"/exams/{order.id}", {"item.0.name": ""})
    assert r.status_code == 422 and "at least one" in field_error(r.text, "item.0.name")
    r = post(
        client,
        f"/exams/{order.id}",
        {"item.0.name": "白细胞", "item.0.value": "5", "item.0.reference_low": "x"},
    )
    assert r.status_code == 422 and "number" in field_error(r.text, "item.0.reference_low")
    assert 'value="白细胞"' in r.text
    assert "lab_report" not in types_of(store, zhang["id"])


def test_finishing_with_money_due_is_refused(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store)
    vid = consulted(client, zhang["id"])
    login(client, "clerk")
    r = post(client, f"/visits/{vid}/finish", {})
    assert r.status_code == 409 and "take the payment first" in r.text
    assert visit_step(client, vid) == "awaiting_payment"


# -- roles and languages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("pharmacist", "/visits/{vid}/triage"),
        ("nurse", "/visits/{vid}/consultation"),
        ("doctor", "/visits/{vid}/pay"),
        ("clerk", "/visits/{vid}/dispense"),
        ("pharmacist", "/visits/new"),
    ],
)
def test_a_step_the_role_may_not_take_is_refused_and_audited(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore, role: str, path: str
) -> None:
    zhang = register(store)
    vid = checked_in(client, zhang["id"])
    login(client, role)
    path = path.format(vid=vid)
    r = post(client, path, {"resident_id": zhang["id"], "department": "general", **VITALS, "method": "cash"})
    assert r.status_code == 403 and "无权访问" in r.text
    denied = [e for e in audit_entries(store.db, user=role) if e["action"].startswith("denied:")]
    assert [e["detail"]["route"] for e in denied] == [path]
    assert types_of(store, zhang["id"]) == ["visit"]


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        ("clerk", "/cashier", 200),
        ("nurse", "/cashier", 403),
        ("pharmacist", "/pharmacy", 200),
        ("doctor", "/pharmacy", 403),
        ("nurse", "/exams", 200),
        ("clerk", "/exams", 403),
        ("public-health", "/visits/{vid}", 403),
    ],
)
def test_worklists_for_the_right_roles(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore, role: str, path: str, status: int
) -> None:
    vid = checked_in(client, register(store)["id"])
    login(client, role)
    assert client.get(path.format(vid=vid)).status_code == status


def test_reading_a_visit_is_audited_as_the_api(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store)
    vid = consulted(client, zhang["id"])
    login(client, "clerk")
    client.get(f"/visits/{vid}")
    client.get("/cashier")
    mine = audit_entries(store.db, user="clerk")
    [visit_read] = [e for e in mine if e["action"] == "read:visit" and e["record_id"] == vid]
    assert visit_read["resident_id"] == zhang["id"] and visit_read["detail"]["via"] == "page"
    assert [e["record_id"] for e in mine if e["action"] == "read:bill"] == [vid]
    [queue] = [e for e in mine if e["action"] == "read:queue"]
    assert queue["detail"]["pending"] == "payment" and queue["detail"]["residents"] == [zhang["id"]]
    login(client, "nurse")
    paid_vid = vid
    paid(client, paid_vid)
    login(client, "nurse")
    client.get("/exams")
    [worklist] = [e for e in audit_entries(store.db, user="nurse") if e["action"] == "read:worklist"]
    assert worklist["detail"]["residents"] == [zhang["id"]]
    for entry in audit_entries(store.db):
        assert zhang["name"] not in str(entry) and zhang["id_number"] not in str(entry)


def test_the_visit_page_in_english_and_chinese(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store)
    vid = consulted(client, zhang["id"])
    login(client, "clerk")
    zh = client.get(f"/visits/{vid}").text
    assert "收费" in zh and "医保支付" in zh and "待缴费" in zh
    en = client.get(f"/visits/{vid}", params={"lang": "en"}).text
    assert "Insurance pays" in en and "Take payment of" in en and "Awaiting payment" in en
    assert "Complete blood count" in en
    login(client, "doctor")
    other = checked_in(client, register(store, name="李四")["id"])
    login(client, "doctor")
    en = client.get(f"/visits/{other}", params={"lang": "en"}).text
    assert '<label for="chief_complaint">Chief complaint' in en and "Save the consultation" in en
    assert "Acute upper respiratory infection" in client.get("/codes/icd10", params={"q": "J06.9"}).text


def test_without_scripts_the_check_in_is_its_own_page(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store, name="张三")
    login(client, "clerk")
    page = client.get("/visits/new", params={"resident_id": zhang["id"]}).text
    assert "张三" in page and '<select id="department" name="department" required autofocus>' in page
    vid = checked_in(client, zhang["id"])
    r = post(client, "/visits/new", {"resident_id": zhang["id"], "department": "general"})
    assert r.status_code == 409 and "already in today" in r.text
    assert f'href="/visits/{vid}"' in r.text
    assert client.get("/visits/no-such-visit").status_code == 404


def test_a_step_taken_meanwhile_is_explained(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store)
    vid = consulted(client, zhang["id"])
    paid(client, vid)
    r = post(client, f"/visits/{vid}/pay", {"method": "cash"})  # a second cashier, or a double click
    assert r.status_code == 409 and "nothing is due on this visit" in r.text
    payments = [r for r in desk_records(store, zhang["id"]) if r.type == "payment"]
    assert len(payments) == 1


# -- refunds and ending a visit early ---------------------------------------------------------------------


def refund_form(html: str) -> tuple[str, dict[str, tuple[int, int]]]:
    """The first refund form: its payment id and, per line field, (value offered, most allowed)."""
    form = html[html.index('action="/visits/') :]
    form = form[: form.index("</form>")]
    found = re.search(r'name="payment_id" value="([^"]+)"', form)
    assert found is not None
    lines = re.findall(r'name="(qty\.\d+)" type="number" min="0" max="(\d+)" value="(\d+)"', form)
    return found.group(1), {name: (int(value), int(most)) for name, most, value in lines}


def test_the_cashier_gives_back_what_was_not_used_saying_why(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store)
    vid = consulted(client, zhang["id"])  # registration, amoxicillin × 2, a blood count
    paid(client, vid)  # as the clerk, who also keeps the till
    page = client.get(f"/visits/{vid}?lang=en").text
    payment_id, offered = refund_form(page)
    # The registration fee is spent once the doctor has seen the resident; the rest may go back.
    assert sorted(offered.values()) == [(0, 0), (1, 1), (2, 2)]
    assert "the consultation took place" in page
    registration = next(name for name, (value, _) in offered.items() if value == 0)
    unused = {name: str(value) for name, (value, _) in offered.items()}

    # No reason, a spent line asked for, a payment of another visit: refused, nothing stored.
    r = post(client, f"/visits/{vid}/refund", {"payment_id": payment_id, **unused, "reason": " "})
    assert r.status_code == 422 and "say why the money is given back" in field_error(r.text, "reason")
    spent = {"payment_id": payment_id, registration: "1", "reason": "挂错号"}
    r = post(client, f"/visits/{vid}/refund", spent)
    assert r.status_code == 409 and "the consultation took place" in field_error(r.text, registration)
    r = post(client, f"/visits/{vid}/refund", {"payment_id": "01a0-elsewhere", **unused, "reason": "退费"})
    assert r.status_code == 422 and "is not a payment of this visit" in r.text
    assert "refund" not in types_of(store, zhang["id"])

    r = post(client, f"/visits/{vid}/refund", {"payment_id": payment_id, **unused, "reason": "转上级医院"})
    assert r.status_code == 303 and r.headers["location"] == f"/visits/{vid}#payments"
    (refund,) = store.records_of(zhang["id"], types=["refund"])
    assert (refund.data["payment_id"], refund.data["reason"]) == (payment_id, "转上级医院")
    assert sorted((ln["source"], ln["quantity"]) for ln in refund.data["lines"]) == [
        ("drug", 2),
        ("service", 1),
    ]
    # The receipt is reissued for the registration alone; nothing is left to hand over.
    page = client.get(f"/visits/{vid}?lang=en").text
    assert "(refunded)" in page and page.count('class="payment"') == 1
    login(client, "pharmacist")
    assert 'id="dispense-submit-1"' not in client.get(f"/visits/{vid}").text
    entry = [e for e in audit_entries(store.db, resident_id=zhang["id"]) if e["action"] == "desk:refund"]
    assert len(entry) == 1 and entry[0]["detail"]["via"] == "page" and entry[0]["user"] == "clerk"

    # The old receipt twice: refused, still one refund.
    login(client, "clerk")
    again = post(client, f"/visits/{vid}/refund", {"payment_id": payment_id, **unused, "reason": "再退"})
    assert again.status_code == 409 and "already refunded" in again.text
    assert len(store.records_of(zhang["id"], types=["refund"])) == 1


def test_the_desk_cancels_a_registration_or_records_that_the_resident_left(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store)
    vid = checked_in(client, zhang["id"])
    assert 'id="cancel-submit"' in client.get(f"/visits/{vid}").text
    r = post(client, f"/visits/{vid}/cancel", {"reason": ""})
    assert r.status_code == 422 and "say why the visit ends here" in field_error(r.text, "reason")
    assert visit_step(client, vid) == "registered"
    assert post(client, f"/visits/{vid}/cancel", {"reason": "挂错科室"}).status_code == 303
    assert visit_step(client, vid) == "cancelled"
    assert 'id="cancel-submit"' not in client.get(f"/visits/{vid}").text

    # A paid visit is not cancelled before its refund; a resident who left keeps what they paid for.
    li = register(store, name="李四", birth="1982-07-01")
    paid_visit = consulted(client, li["id"])
    paid(client, paid_visit)
    r = post(client, f"/visits/{paid_visit}/cancel", {"reason": "不看了"})
    assert r.status_code == 409 and "refund it before cancelling" in r.text
    assert visit_step(client, paid_visit) == "awaiting_dispensing"
    r = post(client, f"/visits/{paid_visit}/cancel", {"reason": "患者未取药先行离开", "left": "1"})
    assert r.status_code == 303 and visit_step(client, paid_visit) == "left"
    actions = {
        e["action"]
        for rid in (zhang["id"], li["id"])
        for e in audit_entries(store.db, resident_id=rid)
        if e["action"] in ("desk:cancel", "desk:left")
    }
    assert actions == {"desk:cancel", "desk:left"}


def test_a_pharmacist_may_not_refund_nor_a_doctor_cancel(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store)
    vid = consulted(client, zhang["id"])
    paid(client, vid)
    login(client, "pharmacist")
    assert 'class="refund"' not in client.get(f"/visits/{vid}").text
    assert post(client, f"/visits/{vid}/refund", {"payment_id": "x", "reason": "y"}).status_code == 403
    login(client, "doctor")
    assert 'id="cancel-submit"' not in client.get(f"/visits/{vid}").text
    assert post(client, f"/visits/{vid}/cancel", {"reason": "y"}).status_code == 403
    assert visit_step(client, vid) == "awaiting_dispensing"
    assert "refund" not in types_of(store, zhang["id"])
