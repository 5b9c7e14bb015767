"""Filling a node with a synthetic township (``schemas.synthetic``) for demos, tests and benchmarks.

SYNTHETIC DATA ONLY. Every item goes through ``Writer.register_resident`` or
``Writer.add_record``, exactly as a clerk's or doctor's save does, so each
record is validated against the store's calendar and gets its outbox entry.
The generator names earlier items by key; the loader swaps each key for the
id the store minted. Keys never cross households, so only the current
household's ids are kept: memory stays flat however large the township.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from itertools import islice
from typing import Any

from schemas import RecordInvalid
from schemas.synthetic import SynthResident, generate

from ._store import NodeStore, StoreError

__all__ = ["fill"]


def fill(
    store: NodeStore,
    *,
    residents: int,
    years: int = 3,
    seed: int = 1,
    today: dt.date | None = None,
    user: str = "synth",
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
    township: str | None = None,
) -> dict[str, int]:
    """Register ``residents`` synthetic residents and ``years`` of their care; return the counts written.

    Writes ``batch`` items per transaction. ``progress`` is called after each
    transaction with the number of the township's residents done so far
    (children born during the period are counted in the result, not there).
    ``today`` defaults to the store's own calendar and may not be later than it.
    """
    store_today = store._today()
    day = today or store_today
    if day > store_today:
        raise ValueError(
            f"today: {day} is after the node's today ({store_today}); its records would be refused"
        )
    if batch < 1:
        raise ValueError(f"batch: {batch} must be at least 1")
    items = generate(residents=residents, years=years, seed=seed, today=day, township=township)
    counts = {"residents": 0, "records": 0}
    ids: dict[str, str] = {}
    household = ""
    done = 0
    while chunk := list(islice(items, batch)):
        with store.transaction() as w:
            for item in chunk:
                prefix = item.key.split("/", 1)[0]
                if prefix != household:  # a new household: the last one's keys are never named again
                    ids.clear()
                    household = prefix
                data = _resolve(item.data, item.refs, ids)
                try:
                    if isinstance(item, SynthResident):
                        ids[item.key] = w.register_resident(data, user=user).envelope.id
                        counts["residents"] += 1
                        done += not item.newborn
                    else:
                        ids[item.key] = w.add_record(ids[item.resident_key], item.type, data, user=user).id
                        counts["records"] += 1
                except (RecordInvalid, StoreError) as exc:
                    what = "resident" if isinstance(item, SynthResident) else item.type
                    raise RuntimeError(f"the node refused synthetic {what} {item.key}: {exc}") from exc
        if progress is not None:
            progress(done)
    return counts


def _resolve(data: dict[str, Any], refs: dict[str, str], ids: dict[str, str]) -> dict[str, Any]:
    """``data`` with each ref path set to the id of the item it names (copied along the path only)."""
    if not refs:
        return data
    out = dict(data)
    for path, key in refs.items():
        parts = path.split(".")
        node: Any = out
        for i, part in enumerate(parts[:-1]):
            nxt = parts[i + 1]
            if isinstance(node, list):
                node[int(part)] = child = (
                    dict(node[int(part)]) if not nxt.isdigit() else list(node[int(part)])
                )
            else:
                existing = node.get(part)
                if existing is None:
                    existing = [] if nxt.isdigit() else {}
                node[part] = child = list(existing) if isinstance(existing, list) else dict(existing)
            node = child
        node[parts[-1]] = ids[key]
    return out
