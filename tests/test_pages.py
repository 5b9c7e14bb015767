"""The clinic's web pages through the real app: login, roles, the desk search, the resident page,
the queue, the sync bar and page, languages, the audit, and nothing loaded from another origin."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from node import NodeStore, audit_entries
from node._pages_i18n import DOMAINS, LOCALE_DIR, TEMPLATE_DIR, negotiate
from node._pages_views import mask_id, sync_bar
from node._remote import save_directory
from node._sync_state import SyncState
from schemas import RecordEnvelope

from .catalogues import compiled_differences, template_messages, untranslated
from .conftest import PASSWORD, auth, encounter_data, resident_data
from .test_record_types import EXAMPLES

STATIC_DIR = Path(__file__).parent.parent / "node" / "static"
OTHER_NODE = "01a20000-0000-7000-8000-0000000000ff"


def login(client: TestClient[Any], user: str) -> None:
    client.cookies.clear()
    r = client.post(
        "/login", data={"user": user, "password": PASSWORD, "next": "/desk"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/desk", r.text


def register(store: NodeStore, **kw: Any) -> dict[str, Any]:
    reg = store.register_resident(resident_data(**kw), user="clerk")
    return store.resident(reg.envelope.id)


def add_allergy(store: NodeStore, resident_id: str) -> None:
    store.add_record(resident_id, "allergy", EXAMPLES["allergy"](), user="doctor")


def add_shared_encounter(store: NodeStore, resident_id: str) -> RecordEnvelope:
    """An encounter written at another clinic, pulled through the hub and linked to this resident."""
    remote_resident = "01a20000-0000-7000-8000-00000000abcd"
    env = RecordEnvelope(
        id="01a20000-0000-7000-8000-0000000000e1",
        fact_id="01a20000-0000-7000-8000-0000000000e1",
        type="encounter",
        v=1,
        resident_id=remote_resident,
        author=OTHER_NODE,
        hlc=store.clock.last.pack(),
        effective="2026-04-03T10:00:00",
        data=encounter_data("2026-04-03T10:00:00"),
    )
    with store.transaction() as w:
        w.apply_link(resident_id, [(remote_resident, OTHER_NODE)], master_id="m1")
        assert w.apply_remote(env) is True
    with store.db.write() as conn:
        save_directory(conn, [{"node_id": OTHER_NODE, "clinic": "511321101", "name": "龙台镇卫生院"}])
    return env


# -- login -------------------------------------------------------------------------------------------


def test_pages_need_a_login(client: TestClient[Any], staff_tokens: dict[str, str]) -> None:
    for path in ("/desk", "/queue", "/sync", "/residents/x"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/login?next={path}"
    r = client.get(
        "/desk/results", params={"q": "zs"}, headers={"HX-Request": "true"}, follow_redirects=False
    )
    assert r.status_code == 401 and r.headers["hx-redirect"] == "/login?next=/desk/results"
    assert client.get("/login").status_code == 200


def test_login_and_logout(client: TestClient[Any], staff_tokens: dict[str, str]) -> None:
    r = client.post("/login", data={"user": "clerk", "password": "wrong password", "next": "/queue"})
    assert r.status_code == 401 and "用户名或密码错误" in r.text
    assert "rhip_session" not in client.cookies
    r = client.post(
        "/login", data={"user": "clerk", "password": PASSWORD, "next": "/queue"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == "/queue"
    assert client.get("/queue").status_code == 200
    # The page session is the API's session: the cookie works on the API too.
    assert client.get("/api/v1/auth/me").json()["user"] == "clerk"
    r = client.post("/logout", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert client.get("/desk", follow_redirects=False).status_code == 303


def test_login_never_redirects_to_another_site(client: TestClient[Any], staff_tokens: dict[str, str]) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        client.cookies.clear()
        r = client.post(
            "/login", data={"user": "clerk", "password": PASSWORD, "next": target}, follow_redirects=False
        )
        assert r.headers["location"] == "/desk", target


# -- roles -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        ("clerk", "/desk", 200),
        ("pharmacist", "/desk", 200),
        ("admin", "/desk", 403),
        ("nurse", "/queue", 200),
        ("pharmacist", "/queue", 200),
        ("public-health", "/queue", 403),
        ("admin", "/queue", 403),
        ("admin", "/sync", 200),
        ("doctor", "/resident", 200),
        ("clerk", "/resident", 200),
        ("admin", "/resident", 403),
    ],
)
def test_each_page_for_the_right_roles(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore, role: str, path: str, status: int
) -> None:
    if path == "/resident":
        path = "/residents/" + register(store)["id"]
    login(client, role)
    r = client.get(path)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("text/html")
    if status == 403:
        assert "无权访问" in r.text
        denied = [e for e in audit_entries(store.db, user=role) if e["action"].startswith("denied:")]
        assert denied and denied[0]["detail"]["route"] == path


def test_unknown_resident_is_the_404_page(client: TestClient[Any], staff_tokens: dict[str, str]) -> None:
    login(client, "doctor")
    r = client.get("/residents/no-such-person")
    assert r.status_code == 404 and "未找到" in r.text


def test_navigation_offers_only_what_the_role_may_open(
    client: TestClient[Any], staff_tokens: dict[str, str]
) -> None:
    login(client, "public-health")
    html = client.get("/desk").text
    assert 'href="/desk"' in html and 'href="/queue"' not in html


# -- the desk ----------------------------------------------------------------------------------------


def test_search_by_initials_id_and_phone(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store, name="张三")
    li = register(store, name="李四", birth="1985-02-03", sex="2")
    login(client, "clerk")
    for q in ("zs", zhang["id_number"], zhang["phone"], zhang["id_number"][-8:]):
        r = client.get("/desk/results", params={"q": q}, headers={"HX-Request": "true"})
        assert r.status_code == 200
        assert "张三" in r.text and "李四" not in r.text, q
        assert "<html" not in r.text  # a fragment, not a page
    r = client.get("/desk/results", params={"q": li["phone"]})
    assert "李四" in r.text and "张三" not in r.text and "41岁" in r.text and "女" in r.text
    r = client.get("/desk/results", params={"q": "wxyz"})
    assert "没有匹配的居民" in r.text
    # Without scripts the desk page answers the same search.
    assert "张三" in client.get("/desk", params={"q": "zs"}).text
    searches = [e for e in audit_entries(store.db, user="clerk") if e["action"] == "search"]
    assert len(searches) == 7


def test_enter_opens_the_first_match(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store, name="张三")
    login(client, "clerk")
    r = client.get("/desk/open", params={"q": zhang["phone"]}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/residents/{zhang['id']}"
    r = client.get("/desk/open", params={"q": "13000000000"}, follow_redirects=False)
    assert r.status_code == 200 and "没有匹配的居民" in r.text


def test_identity_numbers_are_masked_for_roles_that_do_not_keep_demographics(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store, name="张三")
    number = zhang["id_number"]
    login(client, "pharmacist")
    for html in (
        client.get("/desk/results", params={"q": "zs"}).text,
        client.get(f"/residents/{zhang['id']}").text,
    ):
        assert number not in html and mask_id(number) in html and number[-4:] in html
    login(client, "clerk")
    assert number in client.get("/desk/results", params={"q": "zs"}).text
    assert mask_id("11010519491231002X") == "**************002X"


# -- the resident ------------------------------------------------------------------------------------


def test_resident_page_shows_allergies_and_shared_records_with_their_source(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store, name="张三")
    add_allergy(store, zhang["id"])
    store.add_record(zhang["id"], "encounter", encounter_data("2026-03-02T09:30:00"), user="doctor")
    add_shared_encounter(store, zhang["id"])
    login(client, "doctor")
    html = client.get(f"/residents/{zhang['id']}").text
    emergency = html.split('class="emergency"', 1)[1].split("</section>", 1)[0]
    assert "青霉素" in emergency and "全身皮疹" in emergency
    assert html.index('class="emergency"') < html.index('class="tree"')  # always above the file
    shared = re.findall(r'<li class="record shared">(.*?)</li>', html, re.S)
    assert len(shared) == 1 and "2026-04-03" in shared[0] and "来自龙台镇卫生院" in shared[0]
    own = re.findall(r'<li class="record">(.*?)</li>', html, re.S)
    assert any("2026-03-02" in li for li in own) and not any("来自" in li for li in own)
    assert "龙台镇卫生院" in html.split('class="links"', 1)[1]
    # A clerk reads demographics only: no allergies, no clinical record.
    login(client, "clerk")
    html = client.get(f"/residents/{zhang['id']}").text
    assert "张三" in html and "青霉素" not in html and "2026-04-03" not in html
    assert "您的角色不可查看" in html


def test_viewing_a_resident_is_audited(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store)
    assert audit_entries(store.db, resident_id=zhang["id"]) == []
    login(client, "nurse")
    client.get(f"/residents/{zhang['id']}")
    [entry] = audit_entries(store.db, resident_id=zhang["id"])
    assert (entry["user"], entry["role"], entry["action"], entry["reason"]) == (
        "nurse",
        "nurse",
        "read:file-tree",
        "care",
    )
    login(client, "clerk")  # the purpose recorded is the role's, as in the API
    client.get(f"/residents/{zhang['id']}")
    assert {e["reason"] for e in audit_entries(store.db, resident_id=zhang["id"])} == {"care", "registration"}


# -- the queue ---------------------------------------------------------------------------------------


def test_queue_shows_todays_visits_and_their_step(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store, name="张三")
    login(client, "nurse")
    assert "今天还没有人挂号" in client.get("/queue").text
    r = client.post(
        "/api/v1/desk/checkin",
        json={"resident_id": zhang["id"], "department": "general"},
        headers=auth(staff_tokens["clerk"]),
    )
    assert r.status_code == 201, r.text
    step = r.json()["visit"]["step"]
    html = client.get("/queue").text
    row = re.findall(r'<tr class="step-(\w+)">(.*?)</tr>', html, re.S)
    assert [s for s, _ in row] == [step]
    assert "张三" in row[0][1] and "全科" in row[0][1]
    label = re.search(r'<td class="step">\s*(.*?)\s*</td>', row[0][1], re.S)
    assert label is not None and label.group(1) == {"registered": "已挂号", "waiting": "候诊"}[step]
    reads = [e for e in audit_entries(store.db, user="nurse") if e["action"] == "read:queue"]
    assert reads[0]["detail"]["residents"] == [zhang["id"]]


# -- sync --------------------------------------------------------------------------------------------


def test_sync_bar_on_every_page_says_offline_and_what_waits(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store)
    add_allergy(store, zhang["id"])
    waiting = store.outbox_pending()
    assert waiting >= 2
    login(client, "doctor")
    for path in ("/desk", "/queue", f"/residents/{zhang['id']}", "/sync", "/sync/bar"):
        html = client.get(path).text
        bar = html.split('id="sync-bar"', 1)[1].split("</div>", 1)[0]
        assert "未注册到区域平台" in bar, path
        assert f'<span class="pending">{waiting}</span>' in bar, path
        assert '<span class="last-sync">从未</span>' in bar


def test_sync_now_on_a_node_without_a_hub_says_it_works_offline(
    client: TestClient[Any], staff_tokens: dict[str, str]
) -> None:
    login(client, "clerk")
    r = client.post("/sync")
    assert r.status_code == 409 and "离线工作" in r.text and "rhip node enroll" in r.text


def test_sync_bar_online_and_offline(store: NodeStore) -> None:
    assert sync_bar(store.db, enrolled=True)["link"] == "offline"  # never synced yet
    SyncState(store.db).record_success(1_790_000_000_000)
    bar = sync_bar(store.db, enrolled=True)
    assert bar["link"] == "online" and bar["last_sync"].startswith("2026-")
    SyncState(store.db).record_failure(1_790_000_060_000, "unreachable", "hub did not answer")
    assert sync_bar(store.db, enrolled=True)["link"] == "offline"
    assert sync_bar(store.db, enrolled=False)["link"] == "not-enrolled"


# -- languages ---------------------------------------------------------------------------------------


def test_chinese_by_default_english_when_the_browser_prefers_it(
    client: TestClient[Any], staff_tokens: dict[str, str]
) -> None:
    login(client, "clerk")
    assert "挂号台" in client.get("/desk").text
    assert '<html lang="zh-CN">' in client.get("/desk", headers={"Accept-Language": "fr"}).text
    r = client.get("/desk", headers={"Accept-Language": "en"})
    assert "Registration desk" in r.text and "挂号台" not in r.text and '<html lang="en">' in r.text
    assert "挂号台" in client.get("/desk", headers={"Accept-Language": "zh-CN,en;q=0.8"}).text
    # ?lang= wins and is remembered.
    r = client.get("/desk", params={"lang": "en"}, headers={"Accept-Language": "zh-CN"})
    assert "Registration desk" in r.text and client.cookies.get("rhip_lang") == "en"
    assert "Registration desk" in client.get("/queue", headers={"Accept-Language": "zh-CN"}).text


def test_language_negotiation() -> None:
    assert negotiate(None, None, None) == "zh_CN"
    assert negotiate(None, None, "en-GB,en;q=0.9") == "en"
    assert negotiate(None, None, "en;q=0.5,zh-TW;q=0.8") == "zh_CN"
    assert negotiate(None, None, "de,en;q=0.3") == "en"
    assert negotiate(None, None, "en;q=0") == "zh_CN"
    assert negotiate(None, "en", "zh") == "en"
    assert negotiate("zh", "en", "en") == "zh_CN"
    assert negotiate("klingon", None, "en") == "en"


def test_compiled_catalogues_match_their_sources() -> None:
    assert compiled_differences(LOCALE_DIR) == []
    assert {po.stem for po in LOCALE_DIR.glob("*/LC_MESSAGES/*.po")} == set(DOMAINS)


def test_every_template_message_is_in_both_catalogues_and_translated_to_chinese() -> None:
    assert len(template_messages(TEMPLATE_DIR)) > 50
    assert untranslated(TEMPLATE_DIR, LOCALE_DIR) == {"zh_CN": [], "en": []}


# -- nothing from another origin ---------------------------------------------------------------------

_EXTERNAL = re.compile(r"https?://(?!(?:localhost|127\.0\.0\.1|\[::1\])[:/])", re.I)


def test_no_page_or_static_file_loads_from_another_origin(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store, name="张三")
    add_allergy(store, zhang["id"])
    add_shared_encounter(store, zhang["id"])
    pages = [client.get("/login").text]
    login(client, "doctor")
    for path in (
        "/desk?q=zs",
        "/desk/results?q=zs",
        f"/residents/{zhang['id']}",
        "/queue",
        "/sync",
        "/residents/x",
    ):
        r = client.get(path)
        assert r.status_code in (200, 404)
        pages.append(r.text)
    pages.append(client.post("/sync").text)
    login(client, "admin")
    pages.append(client.get("/desk").text)  # the 403 page
    for html in pages:
        assert _EXTERNAL.findall(html) == []
        for ref in re.findall(r'(?:src|href|action)="([^"]*)"', html):
            assert ref.startswith(("/", "?", "#")) and not ref.startswith("//"), ref
    files = [p for p in STATIC_DIR.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"htmx.min.js", "htmx.LICENSE", "rhip.css", "rhip.js"}
    for path in files:
        assert _EXTERNAL.findall(path.read_text(encoding="utf-8")) == [], path
        assert client.get("/static/" + path.relative_to(STATIC_DIR).as_posix()).status_code == 200


# -- new registration --------------------------------------------------------------------------------


def _form(**kw: Any) -> dict[str, str]:
    """A registration as the desk types it: resident_data flattened into the form's fields."""
    data = resident_data(**kw)
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    form["division_code"] = data["address"]["division_code"]
    return form


def test_registration_form_for_the_clerk_and_403_for_the_pharmacist(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    login(client, "clerk")
    html = client.get("/residents/new").text
    assert 'action="/residents/new"' in html and "新建登记" in html
    assert '<option value="2">女</option>' in html and "未办理身份证" in html and "王家村" in html
    assert 'href="/residents/new"' in client.get("/desk").text
    login(client, "pharmacist")
    assert 'href="/residents/new"' not in client.get("/desk").text
    for r in (client.get("/residents/new"), client.post("/residents/new", data=_form())):
        assert r.status_code == 403 and "无权访问" in r.text
    denied = [e for e in audit_entries(store.db, user="pharmacist") if e["action"].startswith("denied:")]
    assert [e["detail"]["route"] for e in denied] == ["/residents/new", "/residents/new"]
    assert store.search("zs", limit=5) == []


def test_registration_with_a_bad_birth_date_comes_back_with_the_message_and_stores_nothing(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    login(client, "clerk")
    form = {**_form(name="王五"), "birth_date": "1970-13-45"}
    r = client.post("/residents/new", data=form)
    assert r.status_code == 422
    message = re.search(r'<span class="field-error" id="birth_date-error">(.*?)</span></span>', r.text, re.S)
    assert message is not None and "1970-13-45 is not a date" in message.group(1)
    assert 'value="王五"' in r.text and f'value="{form["phone"]}"' in r.text
    assert f'<option value="{form["division_code"]}" selected>' in r.text
    assert "未保存" in r.text
    assert store.search("王五", limit=5) == [] and store.search(form["phone"], limit=5) == []
    assert [e for e in audit_entries(store.db, user="clerk") if e["action"] == "register"] == []


def test_registration_redirects_to_the_new_resident(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    login(client, "clerk")
    form = {
        **_form(name="王五", birth="1980-02-29"),
        "birth_date": "19800229",
        "insurance_number": "NB-123456",
    }
    r = client.post("/residents/new", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    resident_id = r.headers["location"].removeprefix("/residents/")
    resident = store.resident(resident_id)
    assert (resident["name"], resident["birth_date"], resident["insurance_number"]) == (
        "王五",
        "1980-02-29",
        "NB-123456",
    )
    assert resident["address"]["division_code"] == form["division_code"]
    [entry] = [e for e in audit_entries(store.db, user="clerk") if e["action"] == "register"]
    assert (entry["resident_id"], entry["reason"]) == (resident_id, "registration")
    assert "王五" in client.get(r.headers["location"]).text


def test_registering_someone_twice_warns_with_a_link_to_the_existing_resident(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    zhang = register(store, name="张三")
    login(client, "clerk")
    form = {**_form(name="张三"), "phone": zhang["phone"]}  # another ID number, same person
    r = client.post("/residents/new", data=form, follow_redirects=False)
    assert r.status_code == 201, r.text
    warning = r.text.split('class="duplicates"', 1)[1].split("</section>", 1)[0]
    assert f'href="/residents/{zhang["id"]}"' in warning
    assert "张三" in warning and zhang["birth_date"] in warning and zhang["phone"] in warning
    assert mask_id(zhang["id_number"]) in warning and zhang["id_number"] not in warning
    assert "同名" in warning
    [new] = [h for h in store.search(zhang["phone"], limit=5) if h["id"] != zhang["id"]]
    assert f'href="/residents/{new["id"]}"' in r.text
    assert store.duplicate_flags(new["id"])[0]["other_id"] == zhang["id"]
