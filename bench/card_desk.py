"""The desk with a resident health card, on a node with 100,000 synthetic residents.

Each round inserts an emulated card (vpcd virtual reader, real pcscd, real
pyscard) for a resident of the node, and times from the moment pcscd reports
the card present (the monitor's event stamp) to the node's API answering the
resident's summary (``POST /api/v1/card/read``: signature checks, the match in
the desk search index, the audit write). The API runs in-process (Litestar's
test client: the whole ASGI stack without a socket). The card is then taken
out and the next round waits until pcscd has seen it go.

Last line: JSON with p50_ms, p95_ms and apdus per read (goal: p95 <= 150 ms).
Needs pcscd and vsmartcard-vpcd (installers/bootstrap.sh); starts pcscd with
installers/pcscd.sh and takes turns with the card tests (/tmp/rhip-pcscd.lock).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import random
import statistics
import subprocess
import time

from _common import ROOT, TODAY, filled_node, percentile
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from litestar.testing import TestClient

import cardreader as cr
from cardreader.pcsc import CardMonitor, PcscCard
from node import NodeStore, create_app, issue_token

RESIDENTS = 100_000
ROUNDS = 120
CARDS = 40  # distinct residents' cards, cycled
PORT, READER = 35963, "Virtual PCD 00 00"


def card_images(store: NodeStore, rng: random.Random) -> tuple[list[cr.CardImage], bytes]:
    """Cards for residents drawn at random, issued as the hub would (from the node's own records here),
    and the hub key that checks them."""
    hub, card_key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    cert = cr.certify_issuer(
        hub,
        cr.public_bytes(card_key),
        region="511321",
        valid_from=dt.date(2026, 1, 1),
        valid_until=dt.date(2046, 1, 1),
    )
    rows = (
        store.db.reader()
        .execute("SELECT id FROM residents WHERE id_number IS NOT NULL AND card_number IS NOT NULL")
        .fetchall()
    )
    images = []
    for (rid,) in rng.sample(rows, CARDS):
        r = store.resident(rid)
        records = [(e.type, e.data) for e in store.records_of(rid)]
        encounters = sorted(
            (d for t, d in records if t == "encounter"), key=lambda d: d["visit_time"], reverse=True
        )
        content = cr.CardContent(
            cr.Issuer(
                r["card_number"], "511321", "南部县卫生健康局", dt.date(2026, 3, 1), dt.date(2036, 3, 1)
            ),
            cr.Holder(r["name"][:50], r["sex"], dt.date.fromisoformat(r["birth_date"]), r["id_number"]),
            cr.emergency_from(r, records),
            r.get("insurance_number"),
            tuple(
                cr.visit_from(e, [], clinic="511321100", clinic_name="南隆镇卫生院") for e in encounters[:10]
            ),
        )
        images.append(cr.CardImage.personalise(content, card_key=card_key, certificate=cert))
    return images, cr.public_bytes(hub)


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the test client logs every request
    home = filled_node("search", residents=RESIDENTS, years=1)
    db = home.database()
    store = NodeStore(db, node_id=home.node_id, today=lambda: TODAY)
    rng = random.Random(7)
    images, trust = card_images(store, rng)
    with db.write() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO users (name, role, password_hash, created_at) "
            "VALUES ('bench-doctor', 'doctor', 'x', '2026-01-01')"
        )
    token = issue_token(db, "bench-doctor", kind="bearer")
    app = create_app(db, store, clinic=home.clinic, name=home.name, card_trust=trust)
    subprocess.run(["bash", str(ROOT / "installers" / "pcscd.sh")], check=True)
    lock = os.open("/tmp/rhip-pcscd.lock", os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(lock, fcntl.LOCK_EX)
    samples: list[float] = []
    apdus: list[int] = []
    matched = 0
    try:
        with TestClient(app=app) as client, CardMonitor(poll_ms=1000) as monitor:
            headers = {"Authorization": f"Bearer {token}"}
            for i in range(ROUNDS + 5):
                with cr.Emulator(cr.VirtualCard(images[i % len(images)]), port=PORT):
                    event = monitor.wait_for(
                        lambda e: isinstance(e, cr.CardInserted) and e.reader == READER, 10
                    )
                    with PcscCard(READER) as card:
                        files = cr.read_files(cr.Channel(card.transmit))
                    r = client.post("/api/v1/card/read", json={"card": files.as_json()}, headers=headers)
                    done = time.monotonic()
                    body = r.json()
                    if r.status_code != 200 or body["source"] != "node":
                        raise SystemExit(
                            f"round {i}: the node did not find the card's holder: {r.text[:200]}"
                        )
                    if i >= 5:  # the first rounds warm the page cache and the imports
                        samples.append(done - event.at)
                        apdus.append(files.apdus)
                        matched += 1
                monitor.wait_for(lambda e: isinstance(e, cr.CardWithdrawn) and e.reader == READER, 10)
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
        os.close(lock)
        db.close()
    result = {
        "residents": RESIDENTS,
        "reads": len(samples),
        "matched": matched,
        "p50_ms": round(statistics.median(samples) * 1000, 2),
        "p95_ms": round(percentile(samples, 95) * 1000, 2),
        "max_ms": round(max(samples) * 1000, 2),
        "apdus": round(statistics.median(apdus)),
        "apdus_max": max(apdus),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
