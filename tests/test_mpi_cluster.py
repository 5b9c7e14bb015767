"""The master index with real processes: a hub (``rhip hub serve``) and two clinic nodes on loopback.

An operator merges two master persons with ``rhip hub mpi merge`` while the hub runs; after their next
syncs both clinics show the merged lifelong history. The unmerge takes it back everywhere. The
invariant of ``tests.cluster`` (every record once, every feed applied, links as the feed left them)
holds after each step.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from .cluster import Cluster, NodeProcess, checked, encounter_body, id_number, resident_body, rhip

A, B = "511321100", "511321101"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path)
    yield c
    c.close()


def _register_with_visits(node: NodeProcess, body: dict[str, object], seed: int) -> tuple[str, set[str]]:
    rng = random.Random(seed)
    with node.store() as store:
        rid = store.register_resident(body, user="clerk").envelope.id
        visits = set()
        for day in (3, 9):
            when = dt.datetime(2026, 1, day, 9, 30)
            visits.add(store.add_record(rid, "encounter", encounter_body(rng, when), user="doctor").id)
    return rid, visits


def _history(node: NodeProcess, resident_id: str) -> set[str]:
    with node.store() as store:
        return {r.id for r in store.records_of(resident_id)}


def _links(node: NodeProcess, resident_id: str) -> set[str]:
    conn = node.connect()
    try:
        rows = conn.execute("SELECT remote_resident_id FROM links WHERE resident_id = ?", (resident_id,))
        return {r[0] for r in rows}
    finally:
        conn.close()


def test_a_merge_at_the_hub_shows_as_merged_history_at_two_nodes(cluster: Cluster) -> None:
    a, b = cluster.add_node(A), cluster.add_node(B)
    rng = random.Random(3)
    body_a = resident_body(rng, number=id_number(rng, dt.date(1951, 7, 14), "1"))
    # The same man at the other clinic, his number mistyped into another valid one: kept apart.
    body_b = {**body_a, "id_number": id_number(random.Random(99), dt.date(1951, 7, 14), "1")}
    assert body_b["id_number"] != body_a["id_number"]
    ra, visits_a = _register_with_visits(a, body_a, 1)
    rb, visits_b = _register_with_visits(b, body_b, 2)
    cluster.converge()
    master_a = cluster.hub.scalar("SELECT master_id FROM residents WHERE resident_id = ?", ra)
    master_b = cluster.hub.scalar("SELECT master_id FROM residents WHERE resident_id = ?", rb)
    assert master_a != master_b
    assert _history(a, ra) == visits_a and _history(b, rb) == visits_b
    review = json.loads(checked(rhip("hub", "mpi", "review", "--home", cluster.hub.home, "--json")).stdout)
    assert [(i["resident_id"], i["candidates"][0]["rule"]) for i in review["items"]] == [(rb, "distinct_ids")]

    merged = checked(
        rhip(
            *("hub", "mpi", "merge", "--home", cluster.hub.home, "--master", master_a, "--other", master_b),
            *("--by", "wangli", "--reason", "one man, a mistyped number"),
        )
    )
    audit = merged.stdout.split("--audit ")[1].split("`")[0]
    cluster.converge()
    assert _links(a, ra) == {rb} and _links(b, rb) == {ra}
    assert _history(a, ra) == visits_a | visits_b  # the merged lifelong history, at both clinics
    assert _history(b, rb) == visits_a | visits_b
    cluster.check()

    checked(
        rhip(
            *("hub", "mpi", "unmerge", "--home", cluster.hub.home, "--audit", audit),
            *("--by", "zhaoq", "--reason", "two men after all"),
        )
    )
    cluster.converge()
    assert _links(a, ra) == set() and _links(b, rb) == set()
    assert _history(a, ra) == visits_a and _history(b, rb) == visits_b
    cluster.check()
    shown = json.loads(
        checked(rhip("hub", "mpi", "show", "--home", cluster.hub.home, "--master", master_a, "--json")).stdout
    )
    assert [(e["action"], e["actor"]) for e in shown["history"]] == [
        ("merge", "wangli"),
        ("unmerge", "zhaoq"),
    ]
