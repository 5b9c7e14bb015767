"""The clinic's pages on a node with 100,000 synthetic residents and their records.

Timed end to end through the node's app (Litestar's test client: routing, the
session check, the store, the audit write and the Jinja rendering; no socket),
as a doctor at a busy desk would hit them:

- ``search``: the desk's search-as-you-type fragment (``/desk/results?q=`` pinyin initials);
- ``resident``: a resident's page (demographics, emergency data, the health file tree);
- ``card``: a health card presented at the desk opening its holder (``/desk/card/{n}``:
  the card's checks, the match, both audits, the resident page with the card panel);
- ``queue``: today's queue;
- ``icd10``: the consultation's diagnosis search as the doctor types (``/codes/icd10?q=``);
- ``visit``: a paid visit at the desk (the day's first run pays one for each of 40 card holders
  through the pages), as the clerk finishing it sees it with the resident's card in the reader:
  the card checked and matched to offer writing the visit onto it, the payment's lines with what
  may still be refunded, the bill and visit audits.

Last line: JSON with p50_ms and p95_ms per page and over all (goal: every page p95 <= 100 ms),
the HTML size, and the process's peak RSS. The benchmark's node never synced, so every one of its
records waits in the outbox (``outbox_pending``): the sync bar on every page counts them, about 20 ms
of each figure at 900,000; a node that syncs counts a few hundred.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from typing import Any

from _common import TODAY, filled_node, percentile, rss_mb
from card_desk import card_images
from litestar.datastructures import Cookie
from litestar.testing import TestClient

import cardreader as cr
from node import DeskReader, NodeStore, create_app, issue_token, match_card
from node._web_auth import session_cookie

RESIDENTS = 100_000
ROUNDS = 300  # per page
DRUG = "amoxicillin_250mg_cap"
GOAL_P95_MS = 100.0


def main() -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the test client logs every request
    home = filled_node("search", residents=RESIDENTS, years=1)
    db = home.database()
    store = NodeStore(db, node_id=home.node_id)  # visits are written today (the wall clock)
    rng = random.Random(11)
    images, trust = card_images(store, rng)
    with db.write() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO users (name, role, password_hash, created_at) "
            "VALUES ('bench-doctor', 'doctor', 'x', '2026-01-01')"
        )
    cookie = session_cookie(issue_token(db, "bench-doctor", kind="session"))
    with db.write() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO users (name, role, password_hash, created_at) "
            "VALUES ('bench-clerk', 'clerk', 'x', '2026-01-01')"
        )
    clerk = session_cookie(issue_token(db, "bench-clerk", kind="session"))
    reader = DeskReader("bench reader")
    reader.set_status("ready")
    app = create_app(db, store, clinic=home.clinic, name=home.name, card_trust=trust, desk_reader=reader)

    reads = db.reader()
    residents = [r[0] for r in reads.execute("SELECT id FROM residents ORDER BY random() LIMIT 2000")]
    initials = [
        r[0]
        for r in reads.execute(
            "SELECT key FROM search_keys WHERE kind = 'initials' ORDER BY random() LIMIT 2000"
        )
    ]
    pending = reads.execute("SELECT count(*) FROM outbox WHERE shipped_seq IS NULL").fetchone()[0]
    files = [cr.read_files(cr.Channel(cr.VirtualCard(image).process)) for image in images]

    samples: dict[str, list[float]] = {
        "search": [],
        "resident": [],
        "card": [],
        "queue": [],
        "icd10": [],
        "visit": [],
    }
    typed = ["J06", "I10", "E11", "高血压", "感冒", "糖尿病", "K29", "M54", "pneumonia", "R50"]
    sizes: dict[str, list[int]] = {k: [] for k in samples}
    with TestClient(app=app) as client:
        client.cookies.set(cookie.key, cookie.value or "")

        def timed(kind: str, path: str, warm: bool) -> None:
            t = time.perf_counter()
            r = client.get(path)
            took = time.perf_counter() - t
            if r.status_code != 200:
                raise SystemExit(f"{kind} {path}: {r.status_code} {r.text[:300]}")
            if not warm:
                samples[kind].append(took)
                sizes[kind].append(len(r.content))

        visits = paid_visits(client, store, files, doctor=cookie, clerk=clerk)

        def timed_visit(i: int, warm: bool) -> None:
            """The clerk's view of a paid visit with its resident's card in the reader."""
            holder, vid = visits[i % len(visits)]
            client.cookies.set(clerk.key, clerk.value or "")
            reader.present("bench reader", files[holder])
            t = time.perf_counter()
            r = client.get(f"/visits/{vid}")
            took = time.perf_counter() - t
            reader.withdraw()
            client.cookies.set(cookie.key, cookie.value or "")
            if r.status_code != 200 or 'id="write-card"' not in r.text or 'class="refund"' not in r.text:
                raise SystemExit(f"visit {vid}: {r.status_code}: the card or refund form is missing")
            if not warm:
                samples["visit"].append(took)
                sizes["visit"].append(len(r.content))

        for i in range(ROUNDS + 20):
            warm = i < 20  # the first rounds compile the templates and warm the page cache
            timed("search", f"/desk/results?q={initials[i % len(initials)]}", warm)
            timed("resident", f"/residents/{residents[i % len(residents)]}", warm)
            seq = reader.present("bench reader", files[i % len(files)]).seq
            timed("card", f"/desk/card/{seq}", warm)
            reader.withdraw()
            timed("queue", "/queue", warm)
            timed("icd10", f"/codes/icd10?q={typed[i % len(typed)]}", warm)
            timed_visit(i, warm)
    db.close()

    every = [s for v in samples.values() for s in v]
    pages = {
        kind: {
            "p50_ms": round(percentile(v, 50) * 1000, 2),
            "p95_ms": round(percentile(v, 95) * 1000, 2),
            "html_kb": round(sum(sizes[kind]) / len(sizes[kind]) / 1024, 1),
        }
        for kind, v in samples.items()
    }
    worst = max(p["p95_ms"] for p in pages.values())
    result = {
        "residents": RESIDENTS,
        "outbox_pending": pending,
        "requests": len(every),
        "p50_ms": round(percentile(every, 50) * 1000, 2),
        "p95_ms": round(percentile(every, 95) * 1000, 2),
        "worst_page_p95_ms": worst,
        "goal_p95_ms": GOAL_P95_MS,
        "pages": pages,
        "rss_mb": rss_mb(),
    }
    print(json.dumps(result))


def paid_visits(
    client: TestClient[Any], store: NodeStore, files: list[cr.CardFiles], *, doctor: Cookie, clerk: Cookie
) -> list[tuple[int, str]]:
    """A visit checked in, consulted and paid today through the pages for each card's holder (made
    by the day's first run, reused by later ones): (index of the card, visit id)."""
    out = []
    # A run earlier today made them already (a resident is queued once a day per department).
    earlier = {v.resident_id: v for v in client.app.state.desk.queue() if v.step.open}
    for n, card in enumerate(files):
        content = cr.open_card(card, trust=client.app.state.card_trust, today=TODAY).content
        match = match_card(store, content)
        if match is None:
            continue
        if match.resident_id in earlier:
            v = earlier[match.resident_id]
            if v.encounter_id is not None and any(not p["refunded"] for p in v.payments):
                out.append((n, v.visit_id))
            continue
        client.cookies.set(clerk.key, clerk.value or "")
        r = client.post(
            "/visits/new",
            data={"resident_id": match.resident_id, "department": "general", "scheme": ""},
            follow_redirects=False,
        )
        vid = r.headers["location"].removeprefix("/visits/")
        client.cookies.set(doctor.key, doctor.value or "")
        form = {
            "chief_complaint": "发热、咳嗽2天",
            "diagnosis.J06.9": "1",
            f"rx.{DRUG}": "1",
            f"rx.{DRUG}.dose": "0.5",
            f"rx.{DRUG}.dose_unit": "g",
            f"rx.{DRUG}.route": "po",
            f"rx.{DRUG}.frequency": "tid",
            f"rx.{DRUG}.days": "3",
            f"rx.{DRUG}.quantity": "2",
            "urgency": "routine",
            "action": "save",
        }
        client.post(f"/visits/{vid}/consultation", data=form, follow_redirects=False)
        client.cookies.set(clerk.key, clerk.value or "")
        total = re.search(r'name="expected_total_fen" value="(\d+)"', client.get(f"/visits/{vid}").text)
        if total is None:
            raise SystemExit(f"visit {vid}: no bill to pay")
        paid = client.post(
            f"/visits/{vid}/pay",
            data={"method": "cash", "expected_total_fen": total.group(1)},
            follow_redirects=False,
        )
        if paid.status_code != 303:
            raise SystemExit(f"visit {vid}: paying failed: {paid.status_code}")
        out.append((n, vid))
    client.cookies.set(doctor.key, doctor.value or "")
    if not out:
        raise SystemExit("no card holder is registered at the bench node")
    return out


if __name__ == "__main__":
    main()
