"""Desk search on a node with 100,000 synthetic residents and their records.

Queries are what clerks type: a full Chinese name, pinyin initials, a full
resident ID number, a card number. Each is timed end to end through
``NodeStore.search`` (key lookup plus the result rows the desk shows).
Last line: JSON with p50_ms and p99_ms over all queries (and per kind).
"""

from __future__ import annotations

import json
import random
import sys
import time

from _common import filled_node, summary_ms

from node import NodeStore

RESIDENTS = 100_000
QUERIES_PER_KIND = 2_000


def main() -> None:
    home = filled_node("search", residents=RESIDENTS, years=1)
    db = home.database()
    store = NodeStore(db, node_id=home.node_id)
    rows = db.reader().execute("SELECT id, name, id_number, card_number FROM residents").fetchall()
    rng = random.Random(42)
    sample = rng.sample(rows, QUERIES_PER_KIND)

    from node._search import search_keys

    queries: dict[str, list[str]] = {"name": [], "initials": [], "id_number": [], "card_number": []}
    for _, name, id_number, card in sample:
        queries["name"].append(name)
        initials = [k for k, kind in search_keys({"name": name}) if kind == "initials"]
        queries["initials"].append(initials[0] if initials else name)
        if id_number:
            queries["id_number"].append(id_number)
        if card:
            queries["card_number"].append(card)
    for q in queries["name"][:50]:  # warm the page cache as a desk that has been open a while
        store.search(q)

    per_kind: dict[str, dict[str, float]] = {}
    every: list[float] = []
    for kind, qs in queries.items():
        times = []
        for q in qs:
            t = time.perf_counter()
            hits = store.search(q, limit=20)
            times.append(time.perf_counter() - t)
            if kind in ("id_number", "card_number") and not hits:
                sys.exit(f"{kind} query found nothing: the benchmark's data is wrong")
        per_kind[kind] = summary_ms(times)
        every.extend(times)
    result = {"residents": len(rows), "queries": len(every), **summary_ms(every), "by_kind": per_kind}
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
