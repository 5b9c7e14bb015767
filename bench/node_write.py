"""Full outpatient visits recorded per second on a clinic node, and the node's memory.

Each visit is what a doctor saves at the end of a consultation: an encounter
(complaint, vitals, ICD-10 diagnoses, orders, charges) and its prescription,
validated and written in one transaction with their outbox entries
(SQLite WAL, synchronous=FULL: durable on commit). Residents come from the
synthetic township generator. Last line: JSON with visits_per_s and rss_mb.
"""

from __future__ import annotations

import json
import random
import shutil
import time

from _common import DATA, TODAY, rss_mb

from node import NodeStore, init_home

RESIDENTS = 2_000
VISITS = 20_000


def main() -> None:
    from node._synth import fill

    path = DATA / "write-run"
    shutil.rmtree(path, ignore_errors=True)
    home = init_home(path, clinic="511321100", name="bench write")
    db = home.database()
    store = NodeStore(db, node_id=home.node_id, today=lambda: TODAY)
    fill(store, residents=RESIDENTS, years=0, seed=3, today=TODAY)
    ids = [r[0] for r in db.reader().execute("SELECT id FROM residents")]

    import schemas

    icd = [c.code for c in schemas.code_list("icd10").codes if c.code[0] in "JKMRN"][:40]
    drugs = [c for c in schemas.code_list("drug").codes if c.extra.get("form") in ("tablet", "capsule")][:30]
    rng = random.Random(11)

    def visit(i: int) -> tuple[dict[str, object], dict[str, object]]:
        t = f"2026-{1 + i % 11:02d}-{1 + i % 27:02d}T{8 + i % 9:02d}:{i % 60:02d}:00"
        d = drugs[i % len(drugs)]
        encounter = {
            "visit_time": t,
            "department": "全科",
            "doctor": "王医生",
            "chief_complaint": "咳嗽、咽痛3天",
            "vitals": {
                "temperature_c": round(36.5 + rng.random() * 2, 1),
                "pulse": 70 + i % 30,
                "systolic": 110 + i % 40,
                "diastolic": 70 + i % 20,
            },
            "diagnoses": [{"icd10": icd[i % len(icd)], "primary": True}, {"icd10": icd[(i + 7) % len(icd)]}],
            "orders": [{"kind": "lab", "item": "血常规"}],
            "charges": [
                {"item": "诊查费", "category": "consultation", "unit_price": "10.00"},
                {"item": "血常规", "category": "lab", "unit_price": "15.00"},
            ],
        }
        prescription = {
            "prescribed_at": t,
            "doctor": "王医生",
            "items": [
                {
                    "drug": d.code,
                    "dose": "1",
                    "dose_unit": d.extra.get("dose_unit", "tab"),
                    "route": "po",
                    "frequency": "tid",
                    "days": 3,
                    "quantity": 9,
                }
            ],
        }
        return encounter, prescription

    pool = [visit(i) for i in range(1000)]  # realistic variety without holding 20,000 dicts
    started = time.perf_counter()
    for i in range(VISITS):
        enc, rx = pool[i % len(pool)]
        rid = ids[i % len(ids)]
        with store.transaction() as w:
            e = w.add_record(rid, "encounter", enc, user="doctor")
            w.add_record(rid, "prescription", {**rx, "encounter_id": e.id}, user="doctor")
    elapsed = time.perf_counter() - started
    outbox = db.reader().execute("SELECT count(*) FROM outbox").fetchone()[0]
    records = db.reader().execute("SELECT count(*) FROM records").fetchone()[0]
    assert outbox == records, "every record has its outbox entry"
    db.close()
    shutil.rmtree(path, ignore_errors=True)
    print(
        json.dumps(
            {
                "visits": VISITS,
                "visits_per_s": round(VISITS / elapsed),
                "rss_mb": rss_mb(),
                "synchronous": "FULL",
            }
        )
    )


if __name__ == "__main__":
    main()
