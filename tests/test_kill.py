"""A node SIGKILLed mid-write loses nothing it acknowledged, and never splits a record from its outbox."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from node import NodeHome

from .conftest import encounter_data, prescription_data, resident_data

WRITER = textwrap.dedent(
    """
    import json, sys
    from node import NodeHome
    home = NodeHome.open(sys.argv[1])
    store = home.store()
    reg, enc, rx = (json.loads(a) for a in sys.argv[2:5])
    rid = store.register_resident(reg, user="clerk").envelope.id
    n = 0
    while True:
        with store.transaction() as w:
            e = w.add_record(rid, "encounter", enc, user="doctor")
            w.add_record(rid, "prescription", {**rx, "encounter_id": e.id}, user="doctor")
        n += 1
        print(n, flush=True)  # acknowledged: committed before this line
    """
)


def test_sigkill_mid_write_keeps_records_and_outbox_together(home: NodeHome, tmp_path: Path) -> None:
    import json

    rng = random.Random(20261125)
    acknowledged_total = 0
    for trial in range(20):
        reg = resident_data(name="周" + "一二三四五六七八九十"[trial % 10])
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                WRITER,
                str(home.path),
                json.dumps(reg),
                json.dumps(encounter_data()),
                json.dumps(prescription_data()),
            ],
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
        )
        assert proc.stdout is not None
        first = proc.stdout.readline()  # wait until it is writing
        assert first.strip() == b"1", first
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        rest = proc.stdout.read().split()
        proc.wait()
        acknowledged = int(rest[-1]) if rest else 1
        acknowledged_total += acknowledged

        conn = sqlite3.connect(home.db_path)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        visits = conn.execute("SELECT count(*) FROM records WHERE type = 'encounter'").fetchone()[0]
        rx = conn.execute("SELECT count(*) FROM records WHERE type = 'prescription'").fetchone()[0]
        unmatched = conn.execute(
            "SELECT count(*) FROM records r LEFT JOIN outbox o ON o.record_id = r.id WHERE o.seq IS NULL"
        ).fetchone()[0]
        dangling = conn.execute(
            "SELECT count(*) FROM outbox o LEFT JOIN records r ON r.id = o.record_id WHERE r.id IS NULL"
        ).fetchone()[0]
        total = conn.execute("SELECT count(*) FROM records").fetchone()[0]
        outbox = conn.execute("SELECT count(*) FROM outbox").fetchone()[0]
        conn.close()
        assert unmatched == 0 and dangling == 0 and total == outbox
        assert visits == rx, "a visit's encounter and prescription commit together"
        # Everything acknowledged is there; at most the one in flight beyond it.
        assert acknowledged_total <= visits <= acknowledged_total + trial + 1
