"""Every read of a resident's record lands in the audit log: who, what, when, why."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from litestar.testing import TestClient

from node import NodeStore, audit_entries

from .conftest import auth, encounter_data, resident_data


@pytest.fixture
def resident(store: NodeStore) -> str:
    rid = store.register_resident(
        resident_data("林美华", sex="2", birth="1968-09-09"), user="setup"
    ).envelope.id
    store.add_record(rid, "encounter", encounter_data(), user="setup")
    return rid


def test_each_read_is_audited_with_user_and_reason(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore, resident: str
) -> None:
    h = auth(staff_tokens["doctor"])
    client.get(f"/api/v1/residents/{resident}", headers=h)
    client.get(f"/api/v1/residents/{resident}/file-tree", headers={**h, "X-Access-Reason": "referral review"})
    client.get(f"/api/v1/residents/{resident}/records", params={"reason": "chronic care plan"}, headers=h)
    entries = audit_entries(store.db, resident_id=resident)
    got = [(e["user"], e["role"], e["action"], e["reason"]) for e in reversed(entries)]
    assert got == [
        ("doctor", "doctor", "read:demographics", "care"),
        ("doctor", "doctor", "read:file-tree", "referral review"),
        ("doctor", "doctor", "read:records", "chronic care plan"),
    ]
    assert all(e["at"].startswith("20") for e in entries)


def test_refused_reads_are_audited_too(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore, resident: str
) -> None:
    rec = store.records_of(resident)[0]
    r = client.get(f"/api/v1/records/{rec.id}", headers=auth(staff_tokens["clerk"]))
    assert r.status_code == 403
    entry = audit_entries(store.db, user="clerk")[0]
    assert entry["action"] == "denied:record.read" and entry["record_id"] == rec.id
    # A role that may read records but not this type is refused per type, and audited with the resident.
    r = client.get(f"/api/v1/records/{rec.id}", headers=auth(staff_tokens["public-health"]))
    assert r.status_code == 403
    entry = audit_entries(store.db, resident_id=resident)[0]
    assert (entry["user"], entry["action"], entry["record_id"]) == (
        "public-health",
        "denied:read:record",
        rec.id,
    )


def test_search_is_audited_but_not_logged(
    client: TestClient[Any],
    staff_tokens: dict[str, str],
    store: NodeStore,
    resident: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    client.get("/api/v1/residents", params={"q": "林美华"}, headers=auth(staff_tokens["clerk"]))
    entry = audit_entries(store.db, user="clerk")[0]
    assert entry["action"] == "search" and entry["detail"]["results"] == 1
    assert "林美华" not in caplog.text, "personal data must never reach the logs"


def test_only_admin_reads_the_log(
    client: TestClient[Any], staff_tokens: dict[str, str], resident: str
) -> None:
    client.get(f"/api/v1/residents/{resident}", headers=auth(staff_tokens["nurse"]))
    r = client.get("/api/v1/audit", params={"resident_id": resident}, headers=auth(staff_tokens["admin"]))
    assert r.status_code == 200
    assert r.json()["entries"][0]["user"] == "nurse"
    assert client.get("/api/v1/audit", headers=auth(staff_tokens["doctor"])).status_code == 403


def test_overlong_reason_is_refused(
    client: TestClient[Any], staff_tokens: dict[str, str], resident: str
) -> None:
    r = client.get(
        f"/api/v1/residents/{resident}", params={"reason": "x" * 500}, headers=auth(staff_tokens["doctor"])
    )
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "reason"
