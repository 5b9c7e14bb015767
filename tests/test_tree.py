"""The health file tree: from the mother's prenatal care to the death record, by category and time."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient

from node import NodeStore, audit_entries, file_tree, readable_types
from node import Role as R

from .conftest import auth, encounter_data, resident_data

ALL = readable_types(R.DOCTOR)


def _maternal_history(store: NodeStore) -> tuple[str, str]:
    """A mother whose pregnancy ends in the child's birth; returns (mother_id, child_id)."""
    mother = store.register_resident(
        resident_data("王丽", sex="2", birth="1995-03-07"), user="ph"
    ).envelope.id
    preg = store.add_record(
        mother,
        "pregnancy_registration",
        {"registered_on": "2025-03-01", "last_menstrual_period": "2024-12-20", "gravidity": 1, "parity": 0},
        user="ph",
    )
    for when, weeks in (("2025-04-20", 17), ("2025-05-20", 21)):
        store.add_record(
            mother,
            "prenatal_visit",
            {"pregnancy_id": preg.id, "visit_date": when, "gestational_weeks": weeks},
            user="ph",
        )
    child = store.register_resident(
        resident_data(
            "张小宝",
            sex="1",
            birth="2025-09-26",
            id_number=None,
            id_number_missing="newborn",
            family={"mother_id": mother},
        ),
        user="clerk",
    ).envelope.id
    store.add_record(
        mother,
        "delivery",
        {
            "pregnancy_id": preg.id,
            "delivery_time": "2025-09-26T03:40:00",
            "gestational_weeks": 40,
            "mode": "vaginal" if "vaginal" in _codes("delivery_mode") else _codes("delivery_mode")[0],
            "place": "hospital" if "hospital" in _codes("delivery_place") else _codes("delivery_place")[0],
            "newborns": [{"sex": "1", "weight_g": 3300, "child_resident_id": child}],
        },
        user="ph",
    )
    store.add_record(
        child,
        "birth",
        {
            "birth_time": "2025-09-26T03:40:00",
            "place": _codes("delivery_place")[0],
            "sex": "1",
            "weight_g": 3300,
            "gestational_weeks": 40,
            "mother_id": mother,
            "mother_name": "王丽",
            "pregnancy_id": preg.id,
        },
        user="ph",
    )
    store.add_record(child, "encounter", encounter_data("2026-02-03T10:00:00", icd10="J06.9"), user="doc")
    return mother, child


def _codes(name: str) -> list[str]:
    import schemas

    return [c.code for c in schemas.code_list(name).codes]


def _group(tree: dict[str, Any], category: str, sub: str) -> list[dict[str, Any]]:
    cat = next(c for c in tree["categories"] if c["category"] == category)
    return next((g["records"] for g in cat["groups"] if g["subcategory"] == sub), [])


def test_child_tree_starts_with_mothers_prenatal_care(store: NodeStore) -> None:
    mother, child = _maternal_history(store)
    tree = file_tree(store, child, readable=ALL)
    prenatal = _group(tree, "key_population", "prenatal_mother")
    assert [r["type"] for r in prenatal] == [
        "pregnancy_registration",
        "prenatal_visit",
        "prenatal_visit",
        "delivery",
    ]
    assert all(r["via"] == "mother" for r in prenatal)
    assert [r["type"] for r in _group(tree, "birth_death", "birth")] == ["birth"]
    assert tree["mother_records_read"] == [mother]
    # The mother's own tree holds the same records as hers, not "via" anyone.
    own = _group(file_tree(store, mother, readable=ALL), "key_population", "maternal")
    assert len(own) == 4 and not any("via" in r for r in own)


def test_tree_ends_with_the_death_record(store: NodeStore) -> None:
    rid = store.register_resident(resident_data(birth="1931-02-02"), user="c").envelope.id
    store.add_record(rid, "encounter", encounter_data("2026-01-05T09:00:00"), user="doc")
    store.add_record(
        rid,
        "death",
        {
            "death_time": "2026-03-01T22:10:00",
            "place": _codes("death_place")[0],
            "immediate_cause": "呼吸衰竭",
            "underlying_cause": "J44.9",
            "certifier": "王医生",
        },
        user="doc",
    )
    tree = file_tree(store, rid, readable=ALL)
    assert tree["resident"]["deceased_on"] == "2026-03-01"
    assert tree["categories"][-1]["category"] == "birth_death"
    assert _group(tree, "birth_death", "death")[0]["effective"].startswith("2026-03-01")


def test_roles_without_maternal_types_do_not_see_the_mother(store: NodeStore) -> None:
    _, child = _maternal_history(store)
    tree = file_tree(store, child, readable=readable_types(R.PHARMACIST))
    assert _group(tree, "key_population", "prenatal_mother") == []
    assert tree["mother_records_read"] == []


def test_reading_a_childs_tree_audits_the_mothers_records(
    client: TestClient[Any], staff_tokens: dict[str, str], store: NodeStore
) -> None:
    mother, child = _maternal_history(store)
    r = client.get(f"/api/v1/residents/{child}/file-tree", headers=auth(staff_tokens["doctor"]))
    assert r.status_code == 200
    entry = audit_entries(store.db, resident_id=mother)[0]
    assert entry["action"] == "read:prenatal-via-child" and entry["detail"] == {"child": child}


def test_versions_are_counted_and_old_ones_hidden(store: NodeStore) -> None:
    rid = store.register_resident(resident_data(), user="c").envelope.id
    first = store.add_record(rid, "encounter", encounter_data(), user="doc")
    store.correct(first.id, encounter_data(icd10="J20.9"), user="doc", reason="code")
    recs = _group(file_tree(store, rid, readable=ALL), "medical_service", "outpatient")
    assert len(recs) == 1 and recs[0]["versions"] == 2 and recs[0]["status"] == "amended"
