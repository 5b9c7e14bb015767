"""The node's store: every write with its outbox entry, immutable facts, demographic history."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node import Database, NodeStore, NotFound, ReadOnlyRecord
from schemas import RecordInvalid, Status

from .conftest import encounter_data, prescription_data, resident_data


def outbox_invariant(path: Any, node_id: str) -> tuple[int, int, int]:
    """(records written here, outbox entries, mismatches) read straight from the file."""
    conn = sqlite3.connect(path)
    records = conn.execute("SELECT count(*) FROM records WHERE author = ?", (node_id,)).fetchone()[0]
    outbox = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
    orphans = conn.execute(
        "SELECT (SELECT count(*) FROM records r WHERE r.author = ?"
        "        AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.record_id = r.id))"
        " + (SELECT count(*) FROM outbox o"
        "        WHERE NOT EXISTS (SELECT 1 FROM records r WHERE r.id = o.record_id AND r.author = ?))",
        (node_id, node_id),
    ).fetchone()[0]
    conn.close()
    return records, outbox, orphans


def test_register_writes_record_resident_and_outbox(store: NodeStore) -> None:
    reg = store.register_resident(resident_data("王秀英", sex="2", birth="1955-03-08"), user="clerk")
    r = store.resident(reg.envelope.id)
    assert r["name"] == "王秀英"
    assert r["address"]["village"]
    env = store.record(reg.envelope.id)
    assert env.author == store.node_id and env.type == "resident" and env.v == 2
    assert store.outbox_pending() == 1
    assert outbox_invariant(store.db.path, store.node_id) == (1, 1, 0)


def test_ids_are_uuid7_and_hlc_increases(store: NodeStore) -> None:
    rid = store.register_resident(resident_data(), user="clerk").envelope.id
    envs = [store.add_record(rid, "encounter", encounter_data(), user="doc") for _ in range(5)]
    assert all(e.id[14] == "7" for e in envs)  # version nibble
    assert [e.hlc for e in envs] == sorted({e.hlc for e in envs})


def test_rejected_write_stores_nothing(store: NodeStore) -> None:
    rid = store.register_resident(resident_data(), user="clerk").envelope.id
    before = store.counts()
    bad = encounter_data()
    bad["vitals"]["temperature_c"] = 55
    with pytest.raises(RecordInvalid) as exc:
        store.add_record(rid, "encounter", bad, user="doc")
    assert exc.value.errors[0].field == "vitals.temperature_c"
    with (
        pytest.raises(RecordInvalid),
        store.transaction() as w,
    ):  # first write of the visit succeeds, second fails
        w.add_record(rid, "encounter", encounter_data(), user="doc")
        w.add_record(rid, "prescription", {"prescribed_at": "bad"}, user="doc")
    assert store.counts() == before


def test_duplicate_identifiers_refused(store: NodeStore) -> None:
    data = resident_data()
    store.register_resident(data, user="clerk")
    again = resident_data("张叁", birth=data["birth_date"], id_number=data["id_number"])
    with pytest.raises(RecordInvalid) as exc:
        store.register_resident(again, user="clerk")
    assert exc.value.errors[0].field == "id_number"
    assert "already registered" in exc.value.errors[0].message


def test_likely_duplicate_is_flagged(store: NodeStore) -> None:
    first = store.register_resident(
        resident_data("李建国", birth="1962-04-07", id_number=None, id_number_missing="not_at_hand"),
        user="clerk",
    )
    # Same person typed again with day and month swapped and a different phone.
    second = store.register_resident(
        resident_data("李建国", birth="1962-07-04", id_number=None, id_number_missing="not_at_hand"),
        user="clerk",
    )
    assert [d.resident_id for d in second.duplicates] == [first.envelope.id]
    assert "birth date with day and month swapped" in second.duplicates[0].reasons
    assert store.duplicate_flags(first.envelope.id)[0]["other_id"] == second.envelope.id


def test_twins_are_not_flagged(store: NodeStore) -> None:
    phone = "13900001111"
    store.register_resident(resident_data("陈雨轩", birth="2015-06-01", phone=phone), user="clerk")
    twin = store.register_resident(
        resident_data("陈雨涵", birth="2015-06-01", phone=phone, sex="2"), user="clerk"
    )
    assert twin.duplicates == []


def test_correction_supersedes_and_keeps_history(store: NodeStore) -> None:
    rid = store.register_resident(resident_data(), user="clerk").envelope.id
    first = store.add_record(rid, "encounter", encounter_data(icd10="J06.9"), user="doc")
    fixed = store.correct(first.id, encounter_data(icd10="J20.9"), user="doc", reason="wrong code picked")
    assert fixed.fact_id == first.id and fixed.supersedes == first.id and fixed.status is Status.AMENDED
    assert [e.id for e in store.records_of(rid)] == [fixed.id]
    assert [v.id for v in store.versions(first.id)] == [first.id, fixed.id]
    assert store.record(first.id).data["diagnoses"][0]["icd10"] == "J06.9"  # never edited in place
    with pytest.raises(ReadOnlyRecord, match="superseded"):
        store.correct(first.id, encounter_data(), user="doc", reason="again")
    with pytest.raises(RecordInvalid):
        store.correct(fixed.id, encounter_data(), user="doc", reason="  ")


def test_entered_in_error_hides_but_keeps(store: NodeStore) -> None:
    rid = store.register_resident(resident_data(), user="clerk").envelope.id
    rec = store.add_record(rid, "encounter", encounter_data(), user="doc")
    eie = store.mark_entered_in_error(rec.id, user="doc", reason="wrong patient")
    assert eie.status is Status.ENTERED_IN_ERROR and eie.supersedes == rec.id
    assert store.record(rec.id).data == rec.data
    with pytest.raises(ReadOnlyRecord):
        store.correct(eie.id, encounter_data(), user="doc", reason="x")


def test_records_from_other_clinics_are_read_only(store: NodeStore) -> None:
    rid = store.register_resident(resident_data(), user="clerk").envelope.id
    rec = store.add_record(rid, "encounter", encounter_data(), user="doc")
    with store.db.write() as conn:  # as if pulled from the hub: another author
        conn.execute("UPDATE records SET author = 'other-node' WHERE id = ?", (rec.id,))
    with pytest.raises(ReadOnlyRecord, match="another clinic"):
        store.correct(rec.id, encounter_data(), user="doc", reason="x")


def test_demographic_changes_keep_every_value(store: NodeStore) -> None:
    rid = store.register_resident(resident_data(phone="13911112222"), user="clerk").envelope.id
    env = store.update_resident(rid, {"phone": "13933334444"}, user="clerk")
    assert env is not None and env.changed == ("phone",)
    assert store.update_resident(rid, {"phone": "13933334444"}, user="clerk") is None  # no change, no record
    store.update_resident(rid, {"phone": None}, user="clerk")
    assert "phone" not in store.resident(rid)
    phones = [(h["value"], h["outcome"]) for h in store.field_history(rid) if h["field"] == "phone"]
    assert phones == [("13911112222", "superseded"), ("13933334444", "superseded"), (None, "current")]
    assert outbox_invariant(store.db.path, store.node_id)[2] == 0


def test_invalid_demographic_change_stores_nothing(store: NodeStore) -> None:
    rid = store.register_resident(resident_data(), user="clerk").envelope.id
    before = store.counts()
    with pytest.raises(RecordInvalid) as exc:
        store.update_resident(rid, {"phone": "12345"}, user="clerk")
    assert exc.value.errors[0].field == "phone"
    assert store.counts() == before


def test_unknown_resident(store: NodeStore) -> None:
    with pytest.raises(NotFound):
        store.add_record("0190a0a0-0000-7000-8000-000000000000", "encounter", encounter_data(), user="doc")


def test_death_is_recorded_once(store: NodeStore) -> None:
    rid = store.register_resident(resident_data(birth="1930-01-01"), user="clerk").envelope.id
    death = {
        "death_time": "2026-10-01T03:00:00",
        "place": _codes("death_place")[0],
        "immediate_cause": "脑梗死",
        "underlying_cause": "I63.9",
        "certifier": "王医生",
    }
    store.add_record(rid, "death", death, user="doc")
    assert store.resident(rid)["deceased_on"] == "2026-10-01"
    with pytest.raises(RecordInvalid, match="already recorded"):
        store.add_record(rid, "death", death, user="doc")


def _codes(name: str) -> list[str]:
    import schemas

    return [c.code for c in schemas.code_list(name).codes]


def test_migrations_recorded_once(store: NodeStore) -> None:
    from node._db import MIGRATIONS

    assert store.db.applied_migrations() == [m[0] for m in MIGRATIONS]
    again = Database(store.db.path)
    assert again.migrate() == []
    again.close()


_ops = st.lists(
    st.sampled_from(
        ["register", "register_bad", "visit", "visit_bad", "correct", "error", "update", "update_bad"]
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_ops)
def test_every_committed_record_has_exactly_one_outbox_entry(store: NodeStore, ops: list[str]) -> None:
    residents: list[str] = []
    records: list[str] = []
    for op in ops:
        try:
            if op == "register":
                residents.append(store.register_resident(resident_data(), user="c").envelope.id)
            elif op == "register_bad":
                store.register_resident(resident_data(birth="2099-01-01"), user="c")
            elif residents and op in ("visit", "visit_bad"):
                with store.transaction() as w:
                    e = w.add_record(residents[-1], "encounter", encounter_data(), user="d")
                    rx = prescription_data()
                    if op == "visit_bad":
                        rx["items"][0]["days"] = 0
                    w.add_record(residents[-1], "prescription", {**rx, "encounter_id": e.id}, user="d")
                records.append(e.id)
            elif records and op == "correct":
                records[-1] = store.correct(records[-1], encounter_data(), user="d", reason="fix").id
            elif records and op == "error":
                store.mark_entered_in_error(records.pop(), user="d", reason="wrong")
            elif residents and op == "update":
                store.update_resident(residents[-1], {"occupation": None}, user="c")
            elif residents and op == "update_bad":
                store.update_resident(residents[-1], {"sex": "7"}, user="c")
        except (RecordInvalid, ReadOnlyRecord):
            pass
    n_records, n_outbox, mismatches = outbox_invariant(store.db.path, store.node_id)
    assert mismatches == 0 and n_records == n_outbox


def test_a_failing_migration_leaves_nothing_behind(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from node import _db

    broken = [*_db.MIGRATIONS, (99, "broken", ["CREATE TABLE half_done (x)", "THIS IS NOT SQL"])]
    monkeypatch.setattr(_db, "MIGRATIONS", broken)
    with pytest.raises(sqlite3.OperationalError):
        Database(tmp_path / "n.db")
    conn = sqlite3.connect(tmp_path / "n.db")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    versions = (
        [r[0] for r in conn.execute("SELECT version FROM migrations")] if "migrations" in tables else []
    )
    conn.close()
    assert "half_done" not in tables and 99 not in versions


def test_a_death_recorded_at_another_clinic_closes_the_local_record(store: NodeStore) -> None:
    from schemas import RecordEnvelope

    local = store.register_resident(resident_data(birth="1935-05-05"), user="clerk").envelope.id
    remote_resident = "01a20000-0000-7000-8000-00000000abcd"
    death = RecordEnvelope(
        id="01a20000-0000-7000-8000-00000000dead",
        fact_id="01a20000-0000-7000-8000-00000000dead",
        type="death",
        v=1,
        resident_id=remote_resident,
        author="01a20000-0000-7000-8000-0000000000ff",
        hlc=store.clock.last.pack(),
        effective="2026-10-02T05:00:00",
        data={
            "death_time": "2026-10-02T05:00:00",
            "place": _codes("death_place")[0],
            "immediate_cause": "心力衰竭",
            "underlying_cause": "I50.9",
            "certifier": "县医院 李医生",
        },
    )
    with store.transaction() as w:
        w.apply_link(local, [(remote_resident, death.author)], master_id="m1")
        assert w.apply_remote(death) is True
        assert w.apply_remote(death) is False  # idempotent
    assert store.resident(local)["deceased_on"] == "2026-10-02"
    shared = [r for r in store.records_of(local) if r.type == "death"]
    assert shared and shared[0].author != store.node_id
    with pytest.raises(ReadOnlyRecord, match="another clinic"):
        store.correct(death.id, death.data, user="doc", reason="x")
    assert outbox_invariant(store.db.path, store.node_id)[2] == 0  # pulled records never enter the outbox
