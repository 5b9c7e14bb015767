"""The node's HTTP API through the real Litestar app: registration, visits, errors, sessions, OpenAPI."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from node import NodeStore

from .conftest import PASSWORD, auth, encounter_data, prescription_data, resident_data


def register(client: TestClient[Any], token: str, **kw: Any) -> dict[str, Any]:
    r = client.post("/api/v1/residents", json=resident_data(**kw), headers=auth(token))
    assert r.status_code == 201, r.text
    return r.json()["resident"]


def test_register_and_find_at_the_desk(client: TestClient[Any], staff_tokens: dict[str, str]) -> None:
    clerk = staff_tokens["clerk"]
    res = register(client, clerk, name="张三")
    r = client.get("/api/v1/residents", params={"q": "zs"}, headers=auth(clerk))
    assert r.status_code == 200
    assert res["id"] in [x["id"] for x in r.json()["results"]]
    r = client.get("/api/v1/residents", params={"q": res["id_number"]}, headers=auth(clerk))
    assert [x["id"] for x in r.json()["results"]] == [res["id"]]


def test_bad_registration_names_fields_and_stores_nothing(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    data = resident_data()
    data["birth_date"] = "1980-02-30"
    data["sex"] = "M"
    r = client.post("/api/v1/residents", json=data, headers=auth(staff_tokens["clerk"]))
    assert r.status_code == 422
    errors = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert errors["birth_date"] == "1980-02-30 is not a date"
    assert "is not a known" in errors["sex"]
    assert store.counts()["records"] == 0


def test_garbage_bodies_get_4xx_never_500(client: TestClient[Any], staff_tokens: dict[str, str]) -> None:
    h = {**auth(staff_tokens["doctor"]), "content-type": "application/json"}
    for body in (b"", b"{", b"[]", b"null", b'"x"', b'{"name": 5}', '{"name": "\u0000"}'.encode()):
        r = client.post("/api/v1/residents", content=body, headers=h)
        assert 400 <= r.status_code < 500, (body, r.status_code, r.text)
        assert r.json()["errors"][0]["field"], "the clerk is told which part of the request is wrong"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.dictionaries(
        st.sampled_from(["name", "sex", "birth_date", "id_number", "phone", "address", "x", "family"]),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
            lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
            max_leaves=6,
        ),
    )
)
def test_random_json_never_500(
    client: TestClient[Any], staff_tokens: dict[str, str], body: dict[str, Any]
) -> None:
    r = client.post(
        "/api/v1/residents",
        content=json.dumps(body),
        headers={**auth(staff_tokens["clerk"]), "content-type": "application/json"},
    )
    assert r.status_code in (201, 400, 422), r.text
    if r.status_code != 201:
        assert r.json()["errors"] and all(e["field"] is not None for e in r.json()["errors"])


def test_whole_visit_in_one_request(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    doc = staff_tokens["doctor"]
    res = register(client, staff_tokens["clerk"])
    r = client.post(
        f"/api/v1/residents/{res['id']}/visits",
        json={"encounter": encounter_data(), "prescriptions": [prescription_data()]},
        headers=auth(doc),
    )
    assert r.status_code == 201, r.text
    enc = r.json()["encounter"]
    assert r.json()["prescriptions"][0]["data"]["encounter_id"] == enc["id"]
    # A visit with a bad prescription leaves nothing behind, and says which item is wrong.
    before = store.counts()
    bad = prescription_data()
    bad["items"][0]["route"] = "by-mouth"
    r = client.post(
        f"/api/v1/residents/{res['id']}/visits",
        json={"encounter": encounter_data(), "prescriptions": [prescription_data(), bad]},
        headers=auth(doc),
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "prescriptions.1.items.0.route"
    assert store.counts() == before


def test_file_tree_groups_by_category_in_time_order(
    client: TestClient[Any], staff_tokens: dict[str, str]
) -> None:
    doc = staff_tokens["doctor"]
    res = register(client, staff_tokens["clerk"])
    for when in ("2026-05-01T10:00:00", "2025-01-09T08:00:00", "2026-01-15T15:30:00"):
        r = client.post(
            f"/api/v1/residents/{res['id']}/records",
            json={"type": "encounter", "data": encounter_data(when)},
            headers=auth(doc),
        )
        assert r.status_code == 201, r.text
    tree = client.get(f"/api/v1/residents/{res['id']}/file-tree", headers=auth(doc)).json()
    assert tree["categories"][0]["category"] == "personal"
    med = next(c for c in tree["categories"] if c["category"] == "medical_service")
    times = [rec["effective"] for g in med["groups"] for rec in g["records"]]
    assert times == sorted(times) and len(times) == 3


def test_correction_and_entered_in_error_over_http(
    client: TestClient[Any], staff_tokens: dict[str, str]
) -> None:
    doc = staff_tokens["doctor"]
    res = register(client, staff_tokens["clerk"])
    rec = client.post(
        f"/api/v1/residents/{res['id']}/records",
        json={"type": "encounter", "data": encounter_data()},
        headers=auth(doc),
    ).json()
    r = client.post(
        f"/api/v1/records/{rec['id']}/corrections",
        json={"data": encounter_data(icd10="J20.9")},
        headers=auth(doc),
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    r = client.post(
        f"/api/v1/records/{rec['id']}/corrections",
        json={"data": encounter_data(icd10="J20.9"), "reason": "wrong code"},
        headers=auth(doc),
    )
    assert r.status_code == 201
    r2 = client.post(
        f"/api/v1/records/{rec['id']}/corrections",
        json={"data": encounter_data(), "reason": "again"},
        headers=auth(doc),
    )
    assert r2.status_code == 409
    versions = client.get(f"/api/v1/records/{rec['id']}/versions", headers=auth(doc)).json()["versions"]
    assert [v["status"] for v in versions] == ["final", "amended"]
    r = client.post(
        f"/api/v1/records/{r.json()['id']}/entered-in-error",
        json={"reason": "wrong patient"},
        headers=auth(doc),
    )
    assert r.status_code == 201
    tree = client.get(f"/api/v1/residents/{res['id']}/file-tree", headers=auth(doc)).json()
    assert sum(c["count"] for c in tree["categories"]) == 0


def test_unknown_record_type_is_a_field_error(client: TestClient[Any], staff_tokens: dict[str, str]) -> None:
    res = register(client, staff_tokens["clerk"])
    r = client.post(
        f"/api/v1/residents/{res['id']}/records",
        json={"type": "horoscope", "data": {}},
        headers=auth(staff_tokens["doctor"]),
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "type" and "horoscope" in r.json()["errors"][0]["message"]
    r = client.post(
        f"/api/v1/residents/{res['id']}/records", json={"data": {}}, headers=auth(staff_tokens["doctor"])
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "type"


def test_demographic_update_and_history(client: TestClient[Any], staff_tokens: dict[str, str]) -> None:
    clerk = staff_tokens["clerk"]
    res = register(client, clerk)
    r = client.patch(f"/api/v1/residents/{res['id']}", json={"phone": "13800138000"}, headers=auth(clerk))
    assert r.status_code == 200 and r.json()["changed"] == ["phone"]
    hist = client.get(f"/api/v1/residents/{res['id']}/history", headers=auth(clerk)).json()["fields"]
    assert [h["value"] for h in hist if h["field"] == "phone"] == [res["phone"], "13800138000"]


def test_login_session_cookie_and_logout(client: TestClient[Any], staff_tokens: dict[str, str]) -> None:
    r = client.post("/api/v1/auth/login", json={"user": "doctor", "password": "wrong password"})
    assert r.status_code == 401
    r = client.post("/api/v1/auth/login", json={"user": "doctor", "password": PASSWORD})
    assert r.status_code == 200
    assert "rhip_session" in r.cookies
    me = client.get("/api/v1/auth/me")
    assert me.status_code == 200 and me.json()["role"] == "doctor"
    client.post("/api/v1/auth/logout")
    client.cookies.clear()
    assert client.get("/api/v1/auth/me").status_code == 401


def test_no_token_no_data(client: TestClient[Any]) -> None:
    assert client.get("/api/v1/residents", params={"q": "zs"}).status_code == 401
    r = client.get("/api/v1/residents", params={"q": "zs"}, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


def test_openapi_lists_the_resources(client: TestClient[Any]) -> None:
    spec = client.get("/schema/openapi.json").json()
    assert "/api/v1/residents" in spec["paths"] and "post" in spec["paths"]["/api/v1/residents"]
    assert "/api/v1/residents/{resident_id}/file-tree" in spec["paths"]


def test_code_search(client: TestClient[Any], staff_tokens: dict[str, str]) -> None:
    r = client.get("/api/v1/codes/icd10", params={"q": "糖尿病"}, headers=auth(staff_tokens["clerk"]))
    assert r.status_code == 200 and any(c["code"].startswith("E11") for c in r.json()["codes"])
    r = client.get("/api/v1/codes/horoscope", headers=auth(staff_tokens["clerk"]))
    assert r.status_code == 422


def test_the_nodes_address_points_to_the_api(client: TestClient[Any]) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.json()["api_docs"] == "/schema" and r.json()["clinic"] == "511321100"
    assert r.json()["pages"] == "/desk"


def test_a_browser_at_the_nodes_address_goes_to_the_desk(client: TestClient[Any]) -> None:
    r = client.get("/", headers={"Accept": "text/html,application/xhtml+xml"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/desk"
