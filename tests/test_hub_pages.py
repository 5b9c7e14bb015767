"""The hub operators' console pages, through the real hub app and a real SQLite file.

Clinics are the test clinics of ``test_hub`` (a key, a node id, records sealed with ``sync``) pushing
over the hub's HTTP API; the operator is the TestClient, which the app takes for loopback
(``test_hub.OPERATOR``). Every test asserts what an operator sees on a page, or what the store and
``rhip hub`` see after a form.
"""

from __future__ import annotations

import html as htmllib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner
from litestar.testing import TestClient

import schemas
import sync
from cli import rhip
from hub import HubHome, HubStore, issue_token, review_queue
from hub._pages import LOCALE_DIR, OPERATOR_COOKIE, STATIC_DIR, TEMPLATE_DIR

from . import test_hub
from .catalogues import compiled_differences, untranslated
from .conftest import encounter_data
from .test_hub import T0, Clinic, Clock, answer, enrolled, make_app

# The hub and its store, the fixtures of test_hub.
clock, hub_home, hub_store = test_hub.clock, test_hub.hub_home, test_hub.hub_store

BASE = "http://127.0.0.1:8200"  # the operator opens the console by its loopback address
ORIGIN = {"Origin": BASE}  # a form posted from the console's own pages
MIN = 60_000
NO_ID = next(iter(schemas.code_list("id_missing_reason").codes)).code
_EXTERNAL = re.compile(r"https?://(?!(?:localhost|127\.0\.0\.1|\[::1\])[:/])", re.I)
PAGES = ("/console", "/console/review", "/console/tokens", "/console/charts")


def text(fragment: str) -> str:
    """What a person reads: the tags dropped, entities decoded, white space folded."""
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def row(page: str, row_id: str) -> str:
    found = re.search(rf'<tr id="{re.escape(row_id)}"[^>]*>(.*?)</tr>', page, re.S)
    assert found, f"no row {row_id}"
    return found.group(1)


def cell(fragment: str, cls: str) -> str:
    found = re.search(rf'<td class="[^"]*\b{cls}\b[^"]*">(.*?)</td>', fragment, re.S)
    assert found, f"no cell {cls}"
    return text(found.group(1))


def errors_named(page: str) -> list[str]:
    return re.findall(r'class="field-error"[^>]*data-field="([^"]+)"', page)


def push(c: Clinic, client: TestClient[Any], *records: dict[str, Any]) -> dict[str, Any]:
    return answer(c.push(client, c.seal(*records)))


def hub_status(home: HubHome) -> dict[str, Any]:
    r = CliRunner().invoke(rhip, ["hub", "status", "--home", str(home.path), "--json"])
    assert r.exit_code == 0, r.output
    result: dict[str, Any] = json.loads(r.output)
    return result


def twins(client: TestClient[Any], store: HubStore) -> tuple[dict[str, Any], dict[str, Any], int]:
    """Twin brothers registered at two clinics: the master index sends the second to review."""
    a, b = enrolled(client, store, "511321100"), enrolled(client, store, "511321101")
    twin = {"sex": "1", "birth": "2015-06-01", "id_number": None, "id_number_missing": NO_ID}
    t1 = a.resident(name="张文杰", phone="13700001111", **twin)
    push(a, client, t1)
    t2 = b.resident(name="张文涛", phone="13700001111", **twin)
    push(b, client, t2)
    (item,) = review_queue(store)
    return t1, t2, int(item["id"])


@pytest.fixture
def client(hub_home: HubHome, hub_store: HubStore) -> Iterator[TestClient[Any]]:
    with TestClient(app=make_app(hub_home, hub_store), base_url=BASE) as c:
        yield c


# -- nodes ----------------------------------------------------------------------------------------


def test_nodes_are_listed_with_last_contact_lag_skew_and_held(
    client: TestClient[Any], hub_store: HubStore, clock: Clock
) -> None:
    a = enrolled(client, hub_store, "511321100")
    # Clinic B wrote its records 40 minutes before it could reach the hub (its clock is right).
    late = Clinic("511321101", Clock(T0 - 40 * MIN))
    assert late.enrol(client, issue_token(hub_store, "511321101")).status_code == 201
    held = late.envelope(
        "encounter", {"visit_time": "yesterday"}, resident_id=late.resident()["id"], check=False
    )
    records = [late.resident(), late.resident(), held]
    late.clock.ms = T0
    push(a, client, a.resident())
    push(late, client, *records)

    page = client.get("/console").text
    first, second = row(page, f"node-{a.node_id}"), row(page, f"node-{late.node_id}")
    assert "511321100" in first and "511321101" in second
    assert cell(first, "lag") == "0 秒" and cell(second, "lag") == "40 分钟"
    assert cell(second, "skew") == "−40 分钟"  # its newest stamp 40 minutes before it arrived
    assert cell(second, "held") == "1" and cell(first, "held") == "0"
    assert cell(second, "seen") == "2026-11-18 11:06"
    assert 'data-kind="silent"' not in page and 'data-kind="fork"' not in page
    # The three 张三 born the same day are for the master index to review: an alert too.
    assert re.search(r'data-kind="review">.*?(\d+) 项待审核', page, re.S)


def test_what_each_node_has_not_sent_yet_is_shown_as_it_reported(
    client: TestClient[Any], hub_store: HubStore, hub_home: HubHome
) -> None:
    a, b = enrolled(client, hub_store, "511321100"), enrolled(client, hub_store, "511321101")
    path = f"/sync/v1/feeds/{a.node_id}/head?waiting=37"
    assert client.get(path, headers=a.headers("GET", path)).status_code == 200
    page = client.get("/console").text
    assert cell(row(page, f"node-{a.node_id}"), "pending") == "37"
    assert cell(row(page, f"node-{b.node_id}"), "pending") == ""  # never reported
    nodes = {n["node_id"]: n for n in hub_status(hub_home)["nodes"]}
    assert nodes[a.node_id]["pending"] == 37 and nodes[a.node_id]["pending_at"] is not None
    assert nodes[b.node_id]["pending"] is None

    # The figure is signed with the path: another number under the same signature is refused.
    forged = f"/sync/v1/feeds/{a.node_id}/head?waiting=0"
    assert client.get(forged, headers=a.headers("GET", path)).status_code == 403
    bad = f"/sync/v1/feeds/{a.node_id}/head?waiting=lots"
    r = client.get(bad, headers=a.headers("GET", bad))
    assert r.status_code == 400 and r.json()["field"] == "waiting"
    assert {n["node_id"]: n["pending"] for n in hub_status(hub_home)["nodes"]}[a.node_id] == 37


def test_a_node_silent_past_the_configured_time_is_an_alert_on_the_console_and_in_status(
    client: TestClient[Any],
    hub_store: HubStore,
    hub_home: HubHome,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a, b = enrolled(client, hub_store, "511321100"), enrolled(client, hub_store, "511321101")
    push(a, client, a.resident())
    # The operator starts the hub with --silent-after 30 (kept in the hub's database).
    monkeypatch.setattr(uvicorn, "run", lambda *_, **__: None)  # the server itself is not under test here
    served = CliRunner().invoke(rhip, ["hub", "serve", "--home", str(hub_home.path), "--silent-after", "30"])
    assert served.exit_code == 0, served.output
    assert "/console" in served.output

    clock.ms = T0 + 20 * MIN
    push(b, client, b.resident())  # B is heard from at +20 min, A not since T0
    clock.ms = T0 + 45 * MIN
    page = client.get("/console").text
    alerts = re.findall(r'<li class="alert alert-silent" data-kind="silent" data-node="([^"]+)"', page)
    assert alerts == [a.node_id]
    assert "已 45 分钟 无联系（超过 30 分钟告警）" in text(page)
    assert "失联" in row(page, f"node-{a.node_id}") and "失联" not in row(page, f"node-{b.node_id}")

    status = hub_store.status()
    assert status["silent_after_min"] == 30
    (silent,) = [x for x in status["alerts"] if x["kind"] == "silent"]
    assert silent["node_id"] == a.node_id and silent["id"] is None and "45 min" in silent["detail"]
    assert client.get("/api/v1/status").json() == status
    # `rhip hub status` (its own clock: the real one, days after T0) lists both nodes as silent.
    kinds = {(x["kind"], x["node_id"]) for x in hub_status(hub_home)["alerts"]}
    assert {("silent", a.node_id), ("silent", b.node_id)} <= kinds
    # A revoked node is no longer watched.
    page = client.post(
        f"/console/nodes/{a.node_id}/revoke", data={"reason": "clinic closed"}, headers=ORIGIN
    ).text
    assert "该节点的密钥已吊销" in page
    assert [x for x in hub_store.status()["alerts"] if x["kind"] == "silent"] == []


def test_quarantined_changesets_and_held_records_are_shown_with_their_reasons(
    client: TestClient[Any], hub_store: HubStore
) -> None:
    a = enrolled(client, hub_store, "511321100")
    r1 = a.resident()
    invalid = a.envelope("encounter", {"visit_time": "yesterday"}, resident_id=r1["id"], check=False)
    too_new = a.envelope("encounter", encounter_data(), resident_id=r1["id"], v=99)
    push(a, client, r1, invalid, too_new)
    forked = a.seal(a.resident(), seq=1, prev=sync.ZERO_HASH)  # a restored backup's changeset 1
    assert a.push(client, forked).status_code == 409

    overview = client.get("/console").text
    assert (
        "分叉：变更集已隔离" in overview and cell(row(overview, f"node-{a.node_id}"), "errors") == "1 个分叉"
    )
    page = client.get(f"/console/nodes/{a.node_id}?lang=en").text
    held = re.findall(r'<td class="reason">([^<]+)</td>', page)
    assert held == ["invalid", "version-too-new"]
    assert "visit_time" in page and "upgrade" in page
    quarantine = re.search(r'<table class="quarantined">(.*?)</table>', page, re.S)
    assert quarantine is not None
    (kept,) = hub_store.reads().quarantined(a.node_id)
    assert kept.frame_hash.hex()[:16] in quarantine.group(1)  # what the node offered for seq 1 …
    assert a.feed[0].hash.hex()[:16] in quarantine.group(1)  # … and what the hub holds
    assert client.get("/console/nodes/no-such-node").status_code == 404


# -- enrolment tokens ----------------------------------------------------------------------------------


def test_a_token_issued_on_the_page_is_shown_once_and_enrols_a_node(
    client: TestClient[Any], hub_store: HubStore, hub_home: HubHome, clock: Clock
) -> None:
    r = client.post("/console/tokens", data={"clinic": "511321102"}, headers=ORIGIN, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/tokens")
    assert "samesite=strict" in r.headers["set-cookie"].lower()
    page = client.get(r.headers["location"]).text
    found = re.search(r'<output id="new-token" class="mono token">([^<]+)</output>', page)
    assert found is not None
    token = found.group(1)
    assert 'id="new-token"' not in client.get("/console/tokens").text  # shown once
    # The token is the real thing: a node enrols with it, once.
    node = Clinic("511321102", clock)
    assert node.enrol(client, token).status_code == 201
    page = client.get("/console/tokens?lang=en").text
    assert re.search(r'data-state="used">.*?511321102', page, re.S)
    assert [n["node_id"] for n in hub_status(hub_home)["nodes"]] == [node.node_id]


def test_revoking_on_the_page_changes_what_the_hub_and_rhip_hub_see(
    client: TestClient[Any], hub_store: HubStore, hub_home: HubHome, clock: Clock
) -> None:
    spare = issue_token(hub_store, "511321103")
    (row_id,) = re.findall(
        r'<tr id="(token-[0-9a-f]+)" data-state="open">', client.get("/console/tokens").text
    )
    digest = hub_store.reads().tokens()[0].hash
    r = client.post("/console/tokens/revoke", data={"token": digest}, headers=ORIGIN, follow_redirects=False)
    assert r.status_code == 303
    page = client.get(r.headers["location"]).text
    assert f"令牌 {digest[:12]}… 已吊销" in page and f'<tr id="{row_id}" data-state="revoked">' in page
    late = Clinic("511321103", clock)
    assert late.enrol(client, spare).json()["reason"] == "token-unknown"

    a = enrolled(client, hub_store, "511321100")
    r = client.post(
        "/console/tokens/revoke-clinic",
        data={"revoke_clinic": "511321100", "reason": "laptop stolen"},
        headers=ORIGIN,
    )
    assert r.status_code == 200 and "已吊销机构 511321100：1 个节点" in r.text
    (node,) = hub_status(hub_home)["nodes"]
    assert node["node_id"] == a.node_id and node["revoked"] is True
    refused = a.push(client, a.seal(a.resident()))
    assert refused.status_code == 403 and "laptop stolen" in refused.json()["detail"]


def test_bad_token_forms_come_back_naming_the_field_and_store_nothing(
    client: TestClient[Any], hub_store: HubStore
) -> None:
    r = client.post("/console/tokens", data={"clinic": "x!"}, headers=ORIGIN)
    assert r.status_code == 422 and errors_named(r.text) == ["clinic"]
    assert 'value="x!"' in r.text and 'aria-invalid="true"' in r.text
    assert hub_store.reads().tokens() == []
    r = client.post("/console/tokens/revoke", data={"token": "0" * 64}, headers=ORIGIN)
    assert r.status_code == 404 and errors_named(r.text) == ["token"]
    r = client.post("/console/tokens/revoke-clinic", data={"revoke_clinic": "511321100"}, headers=ORIGIN)
    assert r.status_code == 422 and errors_named(r.text) == ["reason"]
    r = client.post(
        "/console/tokens/revoke-clinic", data={"revoke_clinic": "511321199", "reason": "typo"}, headers=ORIGIN
    )
    assert r.status_code == 404 and errors_named(r.text) == ["revoke_clinic"]
    a = enrolled(client, hub_store, "511321100")
    r = client.post(f"/console/nodes/{a.node_id}/revoke", data={"reason": "  "}, headers=ORIGIN)
    assert r.status_code == 422 and errors_named(r.text) == ["reason"]
    assert hub_store.node(a.node_id) is not None and not hub_store.node(a.node_id).revoked  # type: ignore[union-attr]


# -- the review queue ---------------------------------------------------------------------------------


def test_the_review_queue_shows_both_registrations_side_by_side_and_logs_the_read(
    client: TestClient[Any], hub_store: HubStore
) -> None:
    t1, t2, review_id = twins(client, hub_store)
    page = client.get("/console/review").text
    table = re.search(rf'<table class="evidence" id="evidence-{review_id}-1">(.*?)</table>', page, re.S)
    assert table is not None
    name = re.search(r'<tr class="level-(\w+)" data-field="name">(.*?)</tr>', table.group(1), re.S)
    assert name is not None
    assert (cell(name.group(2), "ours"), cell(name.group(2), "theirs")) == ("张文涛", "张文杰")
    birth = re.search(r'<tr class="level-exact" data-field="birth_date">(.*?)</tr>', table.group(1), re.S)
    assert (
        birth is not None and cell(birth.group(1), "ours") == cell(birth.group(1), "theirs") == "2015-06-01"
    )
    assert "511321101 卫生院" in table.group(1) and "511321100 卫生院" in table.group(1)  # each one's clinic
    # The evidence in the operator's language: agreement levels, the rule that held it back, the sex.
    assert cell(birth.group(1), "level") == "完全一致"
    assert "可能是双胞胎" in text(page) and "possible match" not in text(page)
    sex = re.search(r'<tr class="level-agree" data-field="sex">(.*?)</tr>', table.group(1), re.S)
    assert sex is not None and cell(sex.group(1), "ours") == cell(sex.group(1), "theirs") == "男"
    # The read is in the hub's access log: who, which registration, never the names.
    (entry,) = hub_store.reads().access_log()
    assert (entry.action, entry.resident_id, entry.user) == ("console:review", t2["id"], "(console)")
    assert entry.detail == {"review_id": review_id, "candidates": [t1["id"]]}
    assert "张" not in json.dumps(entry.as_json(), ensure_ascii=False)


def test_an_item_decided_with_the_form_leaves_the_queue_with_who_and_why(
    client: TestClient[Any], hub_store: HubStore
) -> None:
    t1, t2, review_id = twins(client, hub_store)
    form = {"decision": "different", "by": "王丽", "reason": "twins: different given names"}
    r = client.post(f"/console/review/{review_id}/decide", data=form, headers=ORIGIN, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/console/review?decided={review_id}"
    assert OPERATOR_COOKIE in r.headers["set-cookie"] and "samesite=strict" in r.headers["set-cookie"].lower()
    page = client.get(r.headers["location"]).text
    assert f"审核项 {review_id} 已决定：不是同一人" in text(page) and "王丽" in page
    assert f'id="item-{review_id}"' not in page and 'id="empty"' in page
    assert review_queue(hub_store) == []
    item = hub_store.reads().review_item(review_id)
    assert item is not None
    assert (item.status, item.outcome, item.decided_by, item.why) == (
        "decided",
        "different",
        "王丽",
        "twins: different given names",
    )
    assert hub_store.reads().not_match_partners([t2["id"]]) == {t1["id"]}
    # The name is remembered (a cookie) for the next decision, and shown in the frame.
    assert "操作员： 王丽" in text(page)


def test_same_person_links_the_registration_as_the_api_would(
    client: TestClient[Any], hub_store: HubStore
) -> None:
    t1, t2, review_id = twins(client, hub_store)
    master = hub_store.reads().resident_master(t1["id"])
    form = {"decision": "same", "by": "wangli", "reason": "same boy, name typed wrong"}
    r = client.post(
        f"/console/review/{review_id}/decide", data=form, headers={**ORIGIN, "Accept-Language": "en"}
    )
    assert r.status_code == 200 and f"Review item {review_id} decided: the same person" in text(r.text)
    assert hub_store.reads().resident_master(t2["id"]) == master


def test_bad_decisions_come_back_naming_the_field_and_nothing_changes(
    client: TestClient[Any], hub_store: HubStore
) -> None:
    _, t2, review_id = twins(client, hub_store)
    before = hub_store.reads().resident_master(t2["id"])
    cases = [
        ({"decision": "same", "by": "王丽", "reason": ""}, review_id, 422, "reason"),
        ({"decision": "same", "by": "", "reason": "why"}, review_id, 422, "by"),
        ({"decision": "maybe", "by": "王丽", "reason": "why"}, review_id, 422, "decision"),
        ({"by": "王丽", "reason": "why"}, review_id, 422, "decision"),
        (
            {"decision": "same", "by": "王丽", "reason": "why", "master_id": "nobody"},
            review_id,
            422,
            "master_id",
        ),
        ({"decision": "same", "by": "王丽", "reason": "why"}, 9999, 404, "id"),
    ]
    for form, target, status, field in cases:
        r = client.post(f"/console/review/{target}/decide", data=form, headers=ORIGIN)
        assert (r.status_code, errors_named(r.text)) == (status, [field]), (form, r.text[-2000:])
        if field not in ("master_id", "id"):  # no choice to mark with one candidate; no item 9999
            assert 'aria-invalid="true"' in r.text and f'value="{form.get("by", "")}"' in r.text
    (item,) = review_queue(hub_store)
    assert item["id"] == review_id and item["status"] == "open"
    assert hub_store.reads().resident_master(t2["id"]) == before
    assert hub_store.reads().audit_of([], [t2["id"]]) == []


# -- loopback, cross-site forms ------------------------------------------------------------------------


def test_the_console_answers_only_on_loopback(hub_home: HubHome, hub_store: HubStore) -> None:
    far = make_app(hub_home, hub_store, operator_hosts=frozenset({"127.0.0.1"}))
    with TestClient(app=far, base_url=BASE) as c:
        for path in (*PAGES, "/console/static/console.css"):
            r = c.get(path)
            assert r.status_code == 403, path
        r = c.get("/console")
        assert r.headers["content-type"].startswith("text/html") and "回环地址" in r.text
        r = c.post("/console/tokens", data={"clinic": "511321100"}, headers=ORIGIN)
        assert r.status_code == 403
    assert hub_store.reads().tokens() == []
    # On loopback but asked for by another name (DNS rebinding): refused too.
    with TestClient(app=make_app(hub_home, hub_store), base_url="http://evil.example:8200") as c:
        assert c.get("/console/review").status_code == 403
        r = c.post(
            "/console/tokens", data={"clinic": "511321100"}, headers={"Origin": "http://evil.example:8200"}
        )
        assert r.status_code == 403
    assert hub_store.reads().tokens() == []


def test_a_form_from_another_site_is_refused(client: TestClient[Any], hub_store: HubStore) -> None:
    for headers in ({"Origin": "http://evil.example"}, {"Referer": "http://evil.example/x"}, {}):
        r = client.post("/console/tokens", data={"clinic": "511321100"}, headers=headers)
        assert r.status_code == 403, headers
    r = client.post(
        "/console/tokens",
        data={"clinic": "511321100"},
        headers={"Referer": f"{BASE}/console"},
    )
    assert r.status_code == 200
    assert [t.clinic for t in hub_store.reads().tokens()] == ["511321100"]


# -- languages -----------------------------------------------------------------------------------------


def test_chinese_by_default_english_on_request_and_remembered(client: TestClient[Any]) -> None:
    r = client.get("/console")
    assert '<html lang="zh-CN">' in r.text and "<h1>节点</h1>" in r.text
    r = client.get("/console/review?lang=en")
    assert "<h1>Master index review queue</h1>" in r.text and "rhip_lang=en" in r.headers["set-cookie"]
    assert "<h1>Enrolment tokens</h1>" in client.get("/console/tokens").text  # the cookie
    client.cookies.clear()
    r = client.get("/console/charts", headers={"Accept-Language": "en-GB,en;q=0.9,zh;q=0.5"})
    assert "<h1>Sync volume and lag</h1>" in r.text


def test_compiled_catalogues_match_their_sources() -> None:
    assert compiled_differences(LOCALE_DIR) == []


def test_every_template_message_is_in_both_catalogues() -> None:
    assert untranslated(TEMPLATE_DIR, LOCALE_DIR) == {"zh_CN": [], "en": []}


def test_no_page_or_static_file_loads_from_another_origin(
    client: TestClient[Any], hub_store: HubStore
) -> None:
    twins(client, hub_store)
    for url in PAGES:
        page = client.get(url).text
        assert _EXTERNAL.findall(page) == [], url
        for ref in re.findall(r'(?:src|href|action)="([^"]*)"', page):
            assert ref.startswith(("/", "?", "#")) and not ref.startswith("//"), ref
    files = [p for p in STATIC_DIR.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert _EXTERNAL.findall(path.read_text(encoding="utf-8")) == [], path
        assert client.get("/console/static/" + path.relative_to(STATIC_DIR).as_posix()).status_code == 200


# -- charts ----------------------------------------------------------------------------------------------


def test_the_charts_draw_each_hours_records_and_lag_from_what_was_pushed(
    client: TestClient[Any], hub_store: HubStore, clock: Clock
) -> None:
    a = enrolled(client, hub_store, "511321100")
    # Three uploads, 5, 3 and 1 hours ago, of 1, 2 and 3 records written 10 minutes before each.
    for hours_ago, count in ((5, 1), (3, 2), (1, 3)):
        a.clock.ms = T0 - hours_ago * 60 * MIN - 10 * MIN
        records = [a.resident() for _ in range(count)]
        clock.ms = a.clock.ms = T0 - hours_ago * 60 * MIN
        push(a, client, *records)
    clock.ms = T0
    page = client.get("/console/charts").text
    volume = re.search(r'<svg id="volume".*?</svg>', page, re.S)
    lag = re.search(r'<svg id="lag".*?</svg>', page, re.S)
    assert volume is not None and lag is not None
    bars = [int(n) for n in re.findall(r'data-records="(\d+)"', volume.group(0))]
    assert bars == [1, 2, 3]
    points = [int(n) for n in re.findall(r'data-lag-ms="(\d+)"', lag.group(0))]
    assert points == [10 * MIN] * 3
    assert "<polyline" in lag.group(0) and "<script" not in page
    assert "此时段共收到 3 个变更集，6 条记录" in page
    week = client.get("/console/charts?window=7d").text
    assert sum(int(n) for n in re.findall(r'data-records="(\d+)"', week)) == 6
    r = client.get("/console/charts?window=forever")
    assert r.status_code == 400 and "window" in r.text


def test_the_hub_status_cli_keeps_its_keys_and_prints_silent_nodes(
    client: TestClient[Any], hub_store: HubStore, hub_home: HubHome
) -> None:
    a = enrolled(client, hub_store, "511321100")
    report = hub_status(hub_home)
    assert {"nodes", "alerts", "review_open", "mpi_queue"} <= set(report)
    (alert,) = report["alerts"]
    assert set(alert) == {"id", "at", "kind", "node_id", "detail"} and alert["node_id"] == a.node_id
    r = CliRunner().invoke(rhip, ["hub", "status", "--home", str(hub_home.path)])
    assert r.exit_code == 0 and "ALERT" in r.output and "silent" in r.output


def test_the_serve_option_is_documented() -> None:
    r = CliRunner().invoke(rhip, ["hub", "serve", "--help"])
    assert r.exit_code == 0 and "--silent-after" in r.output
    docs = Path(__file__).parents[1] / "docs" / "console.md"
    assert "--silent-after" in docs.read_text(encoding="utf-8")
