"""Bulk linking quality on 100,000 labelled synthetic registrations: precision, recall, F1.

The registrations come from ``schemas.synthetic.registrations`` (seed 2026):
people of the demo county's townships, registered one to five times each with
clerks' errors (homophones, wrong characters, Latin spellings, swapped dates,
placeholder and legacy identity numbers, moved villages, shared household
phones and booklets, twins …), as CSV text. They are linked exactly as
``rhip mpi link`` links a file (weights estimated by EM from the file itself).

Pairwise figures: a pair of registrations is a true link when both are one
person, a predicted link when both got one master id. ``twins_linked`` counts
master persons that hold registrations of both twins of a pair (goal: 0).
``links_per_s`` is registrations linked per second, reading included.

No arguments. ``RHIP_BENCH_SCALE`` sets the number of registrations for a
development run (default 100,000). Goal: f1 ≥ 0.99.
Last line: JSON with precision, recall, f1.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections import defaultdict

from _common import TODAY, rss_mb

from hub.mpi import link_registrations, pair_quality, read_registrations
from schemas.synthetic import REGISTRATION_COLUMNS, registrations

SCALE = int(os.environ.get("RHIP_BENCH_SCALE", "100000"))
SEED = 2026


def main() -> None:
    labelled = list(registrations(SCALE, seed=SEED, today=TODAY))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, REGISTRATION_COLUMNS)
    writer.writeheader()
    writer.writerows(r.row for r in labelled)
    text = buffer.getvalue()

    started = time.perf_counter()
    regs = list(read_registrations(io.StringIO(text, newline="")))
    result = link_registrations(regs)
    elapsed = time.perf_counter() - started

    truth = [r.person for r in labelled]
    precision, recall, f1 = pair_quality(truth, result.master_ids)
    twins_of: dict[str, set[str]] = defaultdict(set)  # master -> its twin people, by twin pair
    for r, master in zip(labelled, result.master_ids, strict=True):
        if r.twin:
            twins_of[master].add(r.person)
    pairs_held = [len({p.removesuffix("T") for p in people}) < len(people) for people in twins_of.values()]
    twins_linked = sum(pairs_held)
    print(
        json.dumps(
            {
                "registrations": len(regs),
                "people": len(set(truth)),
                "twin_registrations": sum(r.twin for r in labelled),
                "precision": round(precision, 5),
                "recall": round(recall, 5),
                "f1": round(f1, 5),
                "twins_linked": twins_linked,
                "review_pairs": len(result.reviews),
                "links_per_s": round(len(regs) / elapsed, 1),
                "seconds": round(elapsed, 1),
                "rss_mb": rss_mb(),
            }
        )
    )


if __name__ == "__main__":
    main()
