"""The continuing-care pages through the real app: follow-up forms of each kind, referrals and
consultations between two real clinic nodes through a real hub (``conftest.HubTransport``), the shared
summary on demand and breaking the glass, each guarded and audited as the API. SYNTHETIC DATA ONLY.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

import schemas
from hub import HubStore
from node import NodeHome, NodeStore, Permission, Role, allowed, audit_entries, create_app, writable_types
from node._pages_care_views import FOLLOWUP_KINDS, field_labels
from node._pages_i18n import LOCALE_DIR
from node._remote import save_directory

from . import test_shared
from .catalogues import po_catalogue
from .conftest import encounter_data, id_number
from .test_pages import login, register
from .test_record_types import EXAMPLES
from .test_shared import Node, _register

# The real hub and clinic nodes of test_shared (``client`` is the hub's app here; ``web`` the lone node's).
client, clock, hub_home, hub_store, nodes = (
    test_shared.client,
    test_shared.clock,
    test_shared.hub_home,
    test_shared.hub_store,
    test_shared.nodes,
)

TOWN, HOSPITAL = "511321100", "511321102"
NUMBER = id_number("1962-04-18", "2")


@pytest.fixture
def web(store: NodeStore, home: NodeHome) -> Iterator[TestClient[Any]]:
    """One clinic node's pages, not enrolled with a hub."""
    with TestClient(app=create_app(store.db, store, clinic=home.clinic, name=home.name)) as c:
        yield c


def field_error(html: str, name: str) -> str:
    found = re.search(
        rf'<span class="field-error" id="{re.escape(name)}-error">(.*?)</span></span>', html, re.S
    )
    assert found is not None, f"no error beside {name}"
    return found.group(1)


def writes(store: NodeStore, user: str) -> list[dict[str, Any]]:
    return [e for e in audit_entries(store.db, user=user) if e["action"] == "write"]


def denials(store: NodeStore, user: str) -> list[dict[str, Any]]:
    return [e for e in audit_entries(store.db, user=user) if e["action"].startswith("denied:")]


# -- the resident page's actions -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        ("doctor", ["followups/hypertension", "refer", "consult", "summary", "break-glass"], []),
        ("nurse", ["followups/immunization", "followups/maternal", "summary"], ["refer", "break-glass"]),
        ("public-health", ["followups/child", "summary"], ["consult", "break-glass"]),
        ("pharmacist", ["summary"], ["followups/", "refer", "break-glass"]),
        ("clerk", [], ["followups/", "refer", "summary", "break-glass"]),
    ],
)
def test_the_resident_page_offers_the_care_actions_the_role_may_take(
    web: TestClient[Any],
    staff_tokens: dict[str, str],
    store: NodeStore,
    role: str,
    shown: list[str],
    hidden: list[str],
) -> None:
    zhang = register(store, name="张三")
    login(web, role)
    html = web.get(f"/residents/{zhang['id']}").text
    base = f'href="/residents/{zhang["id"]}/'
    for path in shown:
        assert base + path in html, path
    for path in hidden:
        assert base + path not in html, path


def test_every_follow_up_kind_is_one_a_writing_role_may_record() -> None:
    """The resident page offers every kind to each role that writes records (no per-type list in HTML)."""
    for role in Role:
        if not allowed(role, Permission.WRITE_RECORDS):
            continue
        for kind in FOLLOWUP_KINDS.values():
            assert {v.record_type for v in kind.variants} & writable_types(role), (role, kind.name)


# -- follow-ups ------------------------------------------------------------------------------------

FORMS: dict[str, tuple[str, str | None, dict[str, str]]] = {
    # label: (kind, record type, the form as typed)
    "hypertension": (
        "hypertension",
        None,
        {
            "followup_date": "2026-11-20",
            "method": "clinic",
            "symptoms.headache_dizziness": "on",
            "systolic": "152",
            "diastolic": "94",
            "weight_kg": "68.5",
            "adherence": "regular",
            "control": "uncontrolled",
            "medications.0.drug": "amlodipine_5mg_tab",
            "medications.0.dose": "5mg",
            "medications.0.frequency": "qd",
            "next_followup": "2026-12-20",
        },
    ),
    "diabetes": (
        "diabetes",
        None,
        {
            "followup_date": "2026-11-20",
            "method": "home",
            "systolic": "128",
            "diastolic": "80",
            "fasting_glucose": "8.1",
            "hypoglycemia": "none",
            "adherence": "intermittent",
            "control": "controlled",
        },
    ),
    "prenatal": (
        "maternal",
        "prenatal_visit",
        {"visit_date": "2026-11-20", "gestational_weeks": "21", "systolic": "112", "diastolic": "72"},
    ),
    "postpartum": (
        "maternal",
        "postpartum_visit",
        {"visit_date": "2026-11-20", "days_after_delivery": "7", "classification": "normal"},
    ),
    "child": (
        "child",
        None,
        {"check_date": "2026-11-20", "age_months": "12", "weight_kg": "9.6", "development_passed": "yes"},
    ),
    "immunization": (
        "immunization",
        None,
        {
            "given_at": "2026-11-20T10:15",
            "vaccine": "HepB",
            "dose_number": "1",
            "lot_number": "202503B12",
            "site": "R_deltoid",
        },
    ),
}
STORED: dict[str, tuple[str, dict[str, Any]]] = {
    "hypertension": ("hypertension_followup", {"systolic": 152, "symptoms": ["headache_dizziness"]}),
    "diabetes": ("diabetes_followup", {"fasting_glucose": 8.1, "method": "home"}),
    "prenatal": ("prenatal_visit", {"gestational_weeks": 21}),
    "postpartum": ("postpartum_visit", {"days_after_delivery": 7}),
    "child": ("child_check", {"age_months": 12, "development_passed": True}),
    "immunization": ("immunization", {"vaccine": "HepB", "lot_number": "202503B12"}),
}


@pytest.mark.parametrize("role", ["nurse", "public-health"])
@pytest.mark.parametrize("form", list(FORMS))
def test_each_follow_up_kind_is_stored_as_its_record_type_and_shown_in_the_file(
    web: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore, form: str, role: str
) -> None:
    li = register(store, name="李秀兰", sex="2", birth="1990-04-18")
    pregnancy = store.add_record(
        li["id"], "pregnancy_registration", EXAMPLES["pregnancy_registration"](), user="x"
    )
    kind, record_type, typed = FORMS[form]
    path = f"/residents/{li['id']}/followups/{kind}"
    login(web, role)
    page = web.get(path, params={"record": record_type} if record_type else {})
    assert page.status_code == 200 and f'action="{path}"' in page.text
    assert page.text.count(" autofocus") == 1
    data = {**typed, "record_type": record_type or ""}
    if kind == "maternal":
        assert f'<option value="{pregnancy.fact_id}">' in page.text  # her registration, to pick
        data["pregnancy_id"] = pregnancy.fact_id
    r = web.post(path, data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/residents/{li['id']}"
    type_, expected = STORED[form]
    (env,) = store.records_of(li["id"], types=[type_])
    assert {k: env.data[k] for k in expected} == expected
    (entry,) = writes(store, role)
    assert (entry["resident_id"], entry["record_id"], entry["reason"]) == (li["id"], env.id, "care")
    assert entry["detail"] == {"type": type_, "via": "page"}
    html = web.get(r.headers["location"]).text
    assert schemas.record_type(type_).title_zh in html.split('class="tree"', 1)[1]


def test_a_refused_follow_up_comes_back_with_each_problem_beside_its_field_and_stores_nothing(
    web: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store, name="张三")
    login(web, "nurse")
    typed = {
        **FORMS["hypertension"][2],
        "systolic": "abc",
        "medications.0.dose": "",  # a medicine picked without its dose
    }
    r = web.post(f"/residents/{zhang['id']}/followups/hypertension", data=typed)
    assert r.status_code == 422
    assert "must be a whole number" in field_error(r.text, "systolic")
    assert "is required" in field_error(r.text, "medications.0.dose")
    assert 'value="abc"' in r.text and 'value="68.5"' in r.text  # kept as typed
    assert '<option value="amlodipine_5mg_tab" selected>' in r.text
    assert 'name="symptoms.headache_dizziness" value="on" checked' in r.text
    assert re.search(
        r'id="systolic" name="systolic" value="abc"[^>]*aria-invalid="true"[^>]*autofocus', r.text
    )
    assert "未保存" in r.text
    assert store.records_of(zhang["id"], types=["hypertension_followup"]) == []
    assert writes(store, "nurse") == []
    # A check across fields lands on the field it blames.
    r = web.post(
        f"/residents/{zhang['id']}/followups/hypertension",
        data={**FORMS["hypertension"][2], "diastolic": "160"},
    )
    assert r.status_code == 422 and "must be lower than systolic" in field_error(r.text, "diastolic")


def test_a_role_that_may_not_write_the_record_gets_403_and_the_refusal_is_audited(
    web: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    li = register(store, name="李秀兰", sex="2", birth="1990-04-18")
    path = f"/residents/{li['id']}/followups/maternal"
    # The nurse records prenatal visits but not pregnancy registrations (as the API).
    login(web, "nurse")
    assert "pregnancy_registration" not in web.get(path).text
    for r in (
        web.get(path, params={"record": "pregnancy_registration"}),
        web.post(path, data={"record_type": "pregnancy_registration", "registered_on": "2026-11-01"}),
    ):
        assert r.status_code == 403 and "无权访问" in r.text
    assert [(e["action"], e["resident_id"]) for e in denials(store, "nurse")] == [
        ("denied:write", li["id"])
    ] * 2
    # Roles that write no records are stopped by the guard.
    for role in ("pharmacist", "clerk"):
        login(web, role)
        r = web.post(f"/residents/{li['id']}/followups/immunization", data=FORMS["immunization"][2])
        assert r.status_code == 403
        assert denials(store, role)[0]["detail"]["route"] == f"/residents/{li['id']}/followups/immunization"
    assert store.records_of(li["id"]) == []
    # The doctor registers the pregnancy; the nurse then picks it for a prenatal visit.
    login(web, "doctor")
    form = {
        "record_type": "pregnancy_registration",
        "registered_on": "2026-10-01",
        "last_menstrual_period": "2026-08-01",
        "gravidity": "1",
        "parity": "0",
    }
    assert web.post(path, data=form, follow_redirects=False).status_code == 303
    login(web, "nurse")
    assert "2026-10-01" in web.get(path).text


def test_unknown_follow_up_kind_or_resident_is_the_404_page(
    web: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store)
    login(web, "doctor")
    assert web.get(f"/residents/{zhang['id']}/followups/astrology").status_code == 404
    assert web.get("/residents/nobody/followups/hypertension").status_code == 404
    r = web.post("/residents/nobody/followups/immunization", data=FORMS["immunization"][2])
    assert r.status_code == 404 and "未找到" in r.text


def test_follow_up_forms_in_english_and_chinese(
    web: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store)
    login(web, "doctor")
    path = f"/residents/{zhang['id']}/followups/immunization"
    zh = web.get(path).text
    assert "预防接种" in zh and "疫苗" in zh and "乙肝疫苗" in zh and "Lot number" not in zh
    en = web.get(path, headers={"Accept-Language": "en"}).text
    assert "Lot number" in en and "Hepatitis B vaccine" in en and "乙肝疫苗" not in en


def test_follow_up_labels_are_in_both_care_catalogues_and_translated_to_chinese() -> None:
    zh = po_catalogue(LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "care.po")
    en = (LOCALE_DIR / "en" / "LC_MESSAGES" / "care.po").read_text(encoding="utf-8")
    assert sorted(field_labels() - set(zh)) == []
    assert [m for m in sorted(field_labels()) if f'msgid "{m}"' not in en] == []


# -- referrals and consultations between two clinics -----------------------------------------------


def sync(*ns: Node) -> None:
    for n in ns:
        n.sync.round()


def statuses(n: Node, what: str = "referrals") -> list[str]:
    r = n.get(f"/api/v1/{what}")
    assert r.status_code == 200, r.text
    return [i["status"] for i in r.json()[what]]


def page_statuses(n: Node, kind: str = "referral") -> list[str]:
    html = n.api.get("/referrals").text
    return re.findall(rf'<article class="{kind}" id="{kind}-[^"]+" data-status="(\w+)">', html)


@pytest.fixture
def pair(nodes: Callable[[str], Node]) -> tuple[Node, Node, str]:
    town, hospital = nodes(TOWN), nodes(HOSPITAL)
    with town.store.db.write() as conn:  # the hub named the hospital to the township clinic
        save_directory(conn, [{"node_id": hospital.home.node_id, "clinic": HOSPITAL, "name": "县人民医院"}])
    return town, hospital, _register(town, id_number=NUMBER)


def test_a_referral_goes_up_is_accepted_referred_back_and_closed_through_the_pages(
    pair: tuple[Node, Node, str],
) -> None:
    town, hospital, resident = pair
    login(town.api, "doctor")
    form = town.api.get(f"/residents/{resident}/refer")
    assert (
        form.status_code == 200 and '<option value="511321102">县人民医院 (511321102)</option>' in form.text
    )
    r = town.api.post(
        f"/residents/{resident}/refer",
        data={
            "to_clinic": HOSPITAL,
            "urgency": "urgent",
            "reason": "血压控制不佳",
            "preliminary_diagnoses": "i10",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/referrals", r.text
    assert statuses(town) == ["sent"] and page_statuses(town) == ["sent"]
    (sent,) = town.get("/api/v1/referrals").json()["referrals"]
    assert (sent["urgency"], sent["preliminary_diagnoses"], sent["to_clinic"]) == (
        "urgent",
        ["I10"],
        HOSPITAL,
    )
    html = town.api.get("/referrals").text
    assert "县人民医院" in html and "紧急" in html and "李秀兰" in html
    entry = next(e for e in audit_entries(town.store.db) if e["action"] == "referral:out")
    assert (entry["user"], entry["resident_id"], entry["record_id"]) == ("doctor", resident, sent["id"])

    sync(town, hospital)
    login(hospital.api, "doctor")
    html = hospital.api.get("/referrals").text
    assert f'action="/referrals/{sent["id"]}/accept"' in html and "李秀兰" in html
    # Declining needs a reason: the form says so beside the field, nothing is stored.
    r = hospital.api.post(f"/referrals/{sent['id']}/decline", data={"reason": " "})
    assert r.status_code == 422 and "is required" in field_error(r.text, f"decline-reason-{sent['id']}")
    assert statuses(hospital) == ["sent"]
    r = hospital.api.post(f"/referrals/{sent['id']}/accept", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/referrals"
    assert statuses(hospital) == ["accepted"] and page_statuses(hospital) == ["accepted"]
    r = hospital.api.post(f"/referrals/{sent['id']}/accept")
    assert r.status_code == 409 and "answered once" in r.text  # the status forbids a second answer
    r = hospital.api.post(f"/referrals/{sent['id']}/back", data={"results": ""})
    assert r.status_code == 422 and statuses(hospital) == ["accepted"]
    r = hospital.api.post(
        f"/referrals/{sent['id']}/back",
        data={"results": "血压已控制，转回社区随访", "treatment_given": "氨氯地平"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert statuses(hospital) == ["back"]

    sync(hospital, town)
    assert page_statuses(town) == ["back"] and "血压已控制，转回社区随访" in town.api.get("/referrals").text
    r = town.api.post(f"/referrals/{sent['id']}/close", follow_redirects=False)
    assert r.status_code == 303
    sync(town, hospital)
    assert statuses(town) == statuses(hospital) == ["closed"]
    assert page_statuses(hospital) == ["closed"]
    actions = [e["action"] for e in audit_entries(hospital.store.db) if e["action"].startswith("referral:")]
    assert sorted(actions) == ["referral:accept", "referral:back"]


def test_a_declined_referral_and_the_nurse_who_reads_but_does_not_act(pair: tuple[Node, Node, str]) -> None:
    town, hospital, resident = pair
    login(town.api, "doctor")
    r = town.api.post(f"/residents/{resident}/refer", data={"to_clinic": "", "reason": ""})
    assert r.status_code == 422 and "is required" in field_error(r.text, "to_clinic")
    assert statuses(town) == []
    r = town.api.post(
        f"/residents/{resident}/refer",
        data={"to_clinic_code": HOSPITAL, "reason": "需进一步检查"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    sync(town, hospital)
    login(hospital.api, "nurse")
    html = hospital.api.get("/referrals").text
    assert "李秀兰" in html and "/accept" not in html and "/decline" not in html
    (ref,) = hospital.get("/api/v1/referrals").json()["referrals"]
    r = hospital.api.post(f"/referrals/{ref['id']}/accept")
    assert r.status_code == 403 and statuses(hospital) == ["sent"]
    login(hospital.api, "doctor")
    r = hospital.api.post(
        f"/referrals/{ref['id']}/decline", data={"reason": "床位已满"}, follow_redirects=False
    )
    assert r.status_code == 303
    sync(hospital, town)
    assert statuses(town) == ["declined"] and "床位已满" in town.api.get("/referrals").text
    login(town.api, "clerk")
    assert town.api.get("/referrals").status_code == 403


def test_a_consultation_is_asked_and_answered_through_the_pages(pair: tuple[Node, Node, str]) -> None:
    town, hospital, resident = pair
    login(town.api, "doctor")
    r = town.api.post(f"/residents/{resident}/consult", data={"consulting_clinic": HOSPITAL, "question": ""})
    assert r.status_code == 422 and "question" in r.text and statuses(town, "consultations") == []
    r = town.api.post(
        f"/residents/{resident}/consult",
        data={
            "consulting_clinic": HOSPITAL,
            "question": "胸片示右下肺阴影，请协助诊断",
            "diagnoses": "J18.9",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert page_statuses(town, "consultation") == ["requested"]
    sync(town, hospital)
    login(hospital.api, "doctor")
    (asked,) = hospital.get("/api/v1/consultations").json()["consultations"]
    assert "胸片示右下肺阴影" in hospital.api.get("/referrals").text
    r = hospital.api.post(f"/consultations/{asked['id']}/answer", data={"answer": ""})
    assert r.status_code == 422 and "is required" in field_error(r.text, f"answer-answer-{asked['id']}")
    r = hospital.api.post(
        f"/consultations/{asked['id']}/answer", data={"answer": "考虑社区获得性肺炎"}, follow_redirects=False
    )
    assert r.status_code == 303
    assert statuses(hospital, "consultations") == ["answered"]
    sync(hospital, town)
    assert page_statuses(town, "consultation") == ["answered"]
    assert "考虑社区获得性肺炎" in town.api.get("/referrals").text
    en = town.api.get("/referrals", headers={"Accept-Language": "en"}).text
    assert "Consultations this clinic asked" in en and "Answered" in en
    entry = next(e for e in audit_entries(hospital.store.db) if e["action"] == "consultation:answer")
    assert entry["user"] == "doctor" and entry["detail"] == {"via": "page"}


# -- the shared summary and break-glass ------------------------------------------------------------


def test_the_shared_summary_shows_each_records_clinic_and_says_when_the_hub_is_offline(
    nodes: Callable[[str], Node], hub_store: HubStore
) -> None:
    a, d = nodes(TOWN), nodes("511321109")
    ra = _register(a, id_number=NUMBER)
    a.store.add_record(ra, "allergy", EXAMPLES["allergy"](), user="dr_li")
    a.store.add_record(ra, "encounter", encounter_data("2026-10-01T09:00:00", "I10"), user="dr_li")
    a.sync.round()
    rd = _register(d, id_number=NUMBER)  # she walks into another clinic
    login(d.api, "doctor")
    form = d.api.get(f"/residents/{rd}/summary")
    assert form.status_code == 200 and re.search(r'id="reason"[^>]*autofocus', form.text)
    r = d.api.post(f"/residents/{rd}/summary", data={"reason": ""})
    assert r.status_code == 422 and "is required" in field_error(r.text, "reason")
    r = d.api.post(f"/residents/{rd}/summary", data={"reason": "walk-in visit"})
    assert r.status_code == 200, r.text
    allergy = re.search(r'<li class="allergy">(.*?)</li>', r.text, re.S)
    assert allergy is not None and "青霉素" in allergy.group(1) and f"{TOWN} 卫生院" in allergy.group(1)
    (visit,) = re.findall(r'<li class="record shared">(.*?)</li>', r.text, re.S)
    assert "2026-10-01" in visit and "I10" in visit and f"{TOWN} 卫生院" in visit
    entry = next(e for e in audit_entries(d.store.db) if e["action"] == "read:shared-summary")
    assert (entry["user"], entry["reason"], entry["resident_id"]) == ("doctor", "walk-in visit", rd)
    assert entry["detail"]["withheld"] is False and entry["detail"]["master_id"]
    assert [(e.user, e.reason) for e in hub_store.reads().access_log()] == [("doctor", "walk-in visit")]
    d.link.down = True
    r = d.api.post(f"/residents/{rd}/summary", data={"reason": "again"})
    assert r.status_code == 503 and "无法连接区域平台" in r.text
    assert audit_entries(d.store.db)[0]["detail"] == {"found": False, "why": "unreachable", "via": "page"}


def test_a_node_that_is_not_enrolled_says_so_and_the_clerk_may_not_ask(
    web: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store)
    login(web, "doctor")
    r = web.post(f"/residents/{zhang['id']}/summary", data={"reason": "walk-in"})
    assert r.status_code == 409 and "rhip node enroll" in r.text
    r = web.post(f"/residents/{zhang['id']}/break-glass", data={"reason": "unconscious"})
    assert r.status_code == 409
    login(web, "clerk")
    assert web.get(f"/residents/{zhang['id']}/summary").status_code == 403


def test_a_doctor_breaks_the_glass_audited_and_a_nurse_may_not(
    nodes: Callable[[str], Node], hub_store: HubStore
) -> None:
    a, b = nodes(TOWN), nodes("511321101")
    ra, rb = _register(a, id_number=NUMBER), _register(b, id_number=NUMBER)
    hiv = a.store.add_record(ra, "encounter", encounter_data("2026-10-02T09:00:00", "B24"), user="dr_li")
    sync(a, b, b)
    login(b.api, "nurse")
    html = b.api.get(f"/residents/{rb}").text
    assert "break-glass" not in html and "B24" not in html
    for r in (b.api.get(f"/residents/{rb}/break-glass"), b.api.post(f"/residents/{rb}/break-glass", data={})):
        assert r.status_code == 403
    assert [e["action"] for e in denials(b.store, "nurse")] == ["denied:record.break-glass"] * 2
    login(b.api, "doctor")
    form = b.api.get(f"/residents/{rb}/break-glass")
    assert form.status_code == 200 and re.search(r'id="reason"[^>]*autofocus', form.text)
    r = b.api.post(f"/residents/{rb}/break-glass", data={"reason": ""})
    assert r.status_code == 422 and hub_store.status()["alerts"] == []
    r = b.api.post(f"/residents/{rb}/break-glass", data={"reason": "unconscious, on ART?"})
    assert r.status_code == 200, r.text
    released = r.text.split('class="care-released"', 1)[1]
    assert "门诊就诊记录" in released and "B24" in released and f"来自{TOWN} 卫生院" in released
    entry = next(e for e in audit_entries(b.store.db) if e["action"] == "break-glass")
    assert (entry["user"], entry["resident_id"], entry["reason"]) == ("doctor", rb, "unconscious, on ART?")
    assert entry["detail"]["records"] == [hiv.id]
    assert [x["kind"] for x in hub_store.status()["alerts"]] == ["break-glass"]
    b.link.down = True
    r = b.api.post(f"/residents/{rb}/break-glass", data={"reason": "again"})
    assert r.status_code == 503


# -- nothing from elsewhere --------------------------------------------------------------------------


def test_care_pages_load_nothing_from_another_origin(
    web: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store)
    login(web, "doctor")
    for path in (
        "/referrals",
        *(f"/residents/{zhang['id']}/followups/{k}" for k in FOLLOWUP_KINDS),
        f"/residents/{zhang['id']}/refer",
        f"/residents/{zhang['id']}/consult",
        f"/residents/{zhang['id']}/summary",
        f"/residents/{zhang['id']}/break-glass",
    ):
        r = web.get(path)
        assert r.status_code == 200, path
        for ref in re.findall(r'(?:src|href|action)="([^"]*)"', r.text):
            assert ref.startswith(("/", "?", "#")) and not ref.startswith("//"), ref
