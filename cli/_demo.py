"""``rhip demo``: a regional hub and two clinic nodes with synthetic townships, on loopback.

Everything is set up through the same commands an operator uses (``rhip hub
init``, ``rhip node init``, ``rhip synth``, ``rhip hub enroll-token``, ``rhip
node enroll``, ``… serve``), each as its own process, so the demo exercises
the real contracts. A few residents of the first township also registered at
the second clinic (same resident ID number): the hub links them and their
records flow between the clinics.

Each clinic's desk gets a virtual card reader with a resident health card in
it, issued by the hub (``rhip card issue``) and served by ``rhip card emulate``
to the vpcd reader "Virtual PCD 00 0<i>" — when pcscd runs (``installers/demo.sh``
starts it); without it the demo runs without cards and says so.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import click
import httpx

__all__ = ["DEMO_PASSWORD", "demo"]

DEMO_PASSWORD = "rhip-demo-2026"  # noqa: S105 - synthetic demo only; printed for the trainer
DEMO_STAFF = [
    ("clerk", "clerk", "登记员 李芳"),
    ("doctor", "doctor", "王医生"),
    ("nurse", "nurse", "赵护士"),
    ("pharmacist", "pharmacist", "药剂师 陈明"),
    ("phealth", "public-health", "公卫医生 刘强"),
    ("admin", "admin", "管理员"),
]
CLINICS = [
    ("511321100", "南隆镇卫生院", "511321100"),
    ("511321101", "河东镇卫生院", "511321101"),
]


def _rhip(*args: str) -> str:
    """Run one rhip command as its own process; its standard output, or a ClickException."""
    done = subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise click.ClickException(f"rhip {' '.join(args[:2])} failed: {done.stderr.strip() or done.stdout}")
    return done.stdout


def _wait_for(url: str, proc: subprocess.Popen[bytes], what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise click.ClickException(f"{what} exited with code {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise click.ClickException(f"{what} did not answer at {url} within {timeout_s:.0f} s")


def _card_holder(home: Path, *, shared: bool) -> str | None:
    """The identity number of a living adult of ``home`` to issue a demo card to (a shared one if asked)."""
    from node import NodeHome

    db = NodeHome.open(home).database()
    try:
        order = "ORDER BY id" if shared else "ORDER BY id DESC"
        row = (
            db.reader()
            .execute(
                "SELECT id_number FROM residents WHERE id_number IS NOT NULL AND deceased_on IS NULL "
                f"AND birth_date < '1990-01-01' {order} LIMIT 1"
            )
            .fetchone()
        )
    finally:
        db.close()
    return None if row is None else str(row[0])


def _issue_cards(hub_home: Path, homes: list[Path], root: Path) -> list[Path]:
    """A card image per clinic, issued by the hub: the first for a resident both clinics share."""
    cards = root / "cards"
    cards.mkdir(exist_ok=True)
    images = []
    for i, home in enumerate(homes):
        number = _card_holder(homes[0] if i == 0 else home, shared=i == 0)
        if number is None:
            continue
        image = cards / f"desk-{i}.card.json"
        _rhip("card", "issue", "--home", str(hub_home), "--id-number", number, "--out", str(image))
        images.append(image)
    return images


def _pcscd_running() -> bool:
    return any(
        p.name.isdigit() and (p / "comm").read_text(encoding="ascii", errors="replace").strip() == "pcscd"
        for p in Path("/proc").iterdir()
        if (p / "comm").exists()
    )


def _share_residents(src: Path, dst: Path, count: int) -> int:
    """Register ``count`` residents of ``src`` at ``dst`` too (they moved), with one visit each."""
    from node import NodeHome
    from schemas import RecordInvalid

    a, b = NodeHome.open(src), NodeHome.open(dst)
    db_a = a.database()
    rows = (
        db_a.reader()
        .execute(
            "SELECT data FROM residents WHERE id_number IS NOT NULL AND deceased_on IS NULL "
            "AND birth_date < '1990-01-01' ORDER BY id LIMIT ?",
            (count,),
        )
        .fetchall()
    )
    db_a.close()
    db_b = b.database()
    store = b.store(db_b)
    shared = 0
    for (raw,) in rows:
        data: dict[str, Any] = json.loads(raw)
        data.pop("family", None)  # household links name the first clinic's residents
        try:
            rid = store.register_resident(data, user="clerk").envelope.id
        except RecordInvalid:
            continue
        store.add_record(
            rid,
            "encounter",
            {
                "visit_time": "2026-11-20T10:00:00",
                "chief_complaint": "头晕3天",
                "vitals": {"temperature_c": 36.6, "systolic": 152, "diastolic": 94},
                "diagnoses": [{"icd10": "I10", "primary": True}],
            },
            user="doctor",
        )
        shared += 1
    db_b.close()
    return shared


@click.command("demo", context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--dir",
    "base",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to keep the demo's homes (default: a fresh temporary directory, removed on exit).",
)
@click.option(
    "--residents",
    default=2000,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="Synthetic residents per township.",
)
@click.option(
    "--years", default=3, show_default=True, type=click.IntRange(0, 30), help="Years of care to generate."
)
@click.option(
    "--port",
    default=8100,
    show_default=True,
    type=click.IntRange(1, 65000),
    help="Port of the first node; the second node uses the next one and the hub PORT+100.",
)
@click.option("--no-serve", is_flag=True, help="Set up, sync once, print the logins and stop (for scripts).")
def demo(base: Path | None, residents: int, years: int, port: int, no_serve: bool) -> None:
    """Start a hub and two clinic nodes with synthetic townships on 127.0.0.1; prints URLs and logins.

    \b
    Example:
        rhip demo --residents 2000 --port 8100
    """
    root = Path(tempfile.mkdtemp(prefix="rhip-demo-")) if base is None else base
    root.mkdir(parents=True, exist_ok=True)
    hub_home, hub_port = root / "hub", port + 100
    hub_url = f"http://127.0.0.1:{hub_port}"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        _rhip("hub", "init", "--home", str(hub_home), "--region", "511321")
        pw = root / "demo-password.txt"
        pw.write_text(DEMO_PASSWORD + "\n", encoding="utf-8")
        pw.chmod(0o600)
        homes = []
        for i, (clinic, name, township) in enumerate(CLINICS):
            home = root / f"clinic-{clinic}"
            _rhip("node", "init", "--home", str(home), "--clinic", clinic, "--name", name)
            click.echo(f"synthesising {residents} residents of {name}'s township …", err=True)
            _rhip(
                "synth",
                "--home",
                str(home),
                "--residents",
                str(residents),
                "--years",
                str(years),
                "--seed",
                str(2026 + i),
                "--township",
                township,
            )
            for user, role, display in DEMO_STAFF:
                _rhip(
                    "node",
                    "add-user",
                    "--home",
                    str(home),
                    "--user",
                    user,
                    "--role",
                    role,
                    "--password-file",
                    str(pw),
                    "--display-name",
                    display,
                )
            config = json.loads((home / "config.json").read_text(encoding="utf-8"))
            config["sync_interval_s"] = 10
            (home / "config.json").write_text(
                json.dumps(config, ensure_ascii=False, indent=2), encoding="utf-8"
            )
            homes.append(home)
        moved = _share_residents(homes[0], homes[1], 5)

        hub_proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "hub", "serve", "--home", str(hub_home), "--port", str(hub_port)],
            stdout=subprocess.DEVNULL,
            stderr=(root / "hub.log").open("ab"),
        )
        procs.append(hub_proc)
        _wait_for(f"{hub_url}/healthz", hub_proc, "the hub")
        for home, (clinic, _, _) in zip(homes, CLINICS, strict=True):
            token = (
                _rhip("hub", "enroll-token", "--home", str(hub_home), "--clinic", clinic)
                .strip()
                .splitlines()[-1]
            )
            _rhip("node", "enroll", "--home", str(home), "--hub", hub_url, "--token", token)
        for _ in range(2):  # twice: the second round brings each clinic what the other sent
            for home in homes:
                _rhip("node", "sync", "--home", str(home))

        images = _issue_cards(hub_home, homes, root)

        click.echo("")
        click.echo(
            f"hub          http://127.0.0.1:{hub_port}/console   (operator console, from this machine; "
            "status JSON: /api/v1/status)"
        )
        for i, (_, name, _) in enumerate(CLINICS):
            click.echo(f"clinic node  {name}: http://127.0.0.1:{port + i}/desk   (pages; API docs: /schema)")
        click.echo(f"logins       {', '.join(u for u, _, _ in DEMO_STAFF)} — password: {DEMO_PASSWORD}")
        click.echo(f"shared       {moved} residents are registered at both clinics; the hub linked them")
        click.echo(f"homes        {root}   (logs: hub.log, clinic-*/node.log)")
        cards_live = not no_serve and _pcscd_running()
        for i, image in enumerate(images):
            where = f"in the reader 'Virtual PCD 00 0{i}'" if cards_live else "(no pcscd: not in a reader)"
            click.echo(f"card         {CLINICS[i][1]} desk: {image.name} {where}")
        if images and cards_live:
            click.echo(f"             read it: rhip card read --home {homes[0]} --json")
        sys.stdout.flush()
        if no_serve:
            return
        if cards_live:
            for i, image in enumerate(images):
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "cli", "card", "emulate", "--image", str(image),
                         "--port", str(35963 + i)],
                        stdout=subprocess.DEVNULL,
                        stderr=(root / f"card-{i}.log").open("ab"),
                    )
                )  # fmt: skip
        for i, home in enumerate(homes):
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "cli",
                    "node",
                    "serve",
                    "--home",
                    str(home),
                    "--port",
                    str(port + i),
                    "--card-reader",
                    f"Virtual PCD 00 0{i}" if cards_live else "none",
                ],
                stdout=subprocess.DEVNULL,
                stderr=(home / "node.log").open("ab"),
            )
            procs.append(proc)
            _wait_for(f"http://127.0.0.1:{port + i}/healthz", proc, f"node {CLINICS[i][1]}")
        # A SIGTERM (a service manager, `timeout`) stops the children too, through `finally`.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        click.echo("running; press Ctrl-C to stop")
        with contextlib.suppress(KeyboardInterrupt):
            while all(p.poll() is None for p in procs):
                time.sleep(0.5)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=10)
        if base is None and not no_serve:
            shutil.rmtree(root, ignore_errors=True)
