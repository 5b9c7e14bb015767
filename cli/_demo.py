"""``rhip demo``: a clinic node with a synthetic township, on loopback, ready to use."""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import click

from node import Role, add_user, create_app, init_home, issue_token

__all__ = ["DEMO_PASSWORD", "demo"]

DEMO_PASSWORD = "rhip-demo-2026"  # noqa: S105 - synthetic demo only; printed for the trainer
DEMO_STAFF = [
    ("clerk", Role.CLERK, "登记员 李芳"),
    ("doctor", Role.DOCTOR, "王医生"),
    ("nurse", Role.NURSE, "赵护士"),
    ("pharmacist", Role.PHARMACIST, "药剂师 陈明"),
    ("phealth", Role.PUBLIC_HEALTH, "公卫医生 刘强"),
    ("admin", Role.ADMIN, "管理员"),
]


@click.command("demo", context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--dir",
    "base",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to keep the demo node (default: a fresh temporary directory, removed on exit).",
)
@click.option(
    "--residents",
    default=2000,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="Synthetic residents in the township.",
)
@click.option(
    "--years", default=3, show_default=True, type=click.IntRange(0, 30), help="Years of care to generate."
)
@click.option(
    "--port", default=8100, show_default=True, type=click.IntRange(1, 65535), help="Port of the clinic node."
)
@click.option("--no-serve", is_flag=True, help="Set everything up and print the logins, but do not serve.")
def demo(base: Path | None, residents: int, years: int, port: int, no_serve: bool) -> None:
    """Start a demo clinic node on 127.0.0.1 filled with a synthetic township; prints its URL and logins.

    \b
    Example:
        rhip demo --residents 2000 --port 8100
    """
    import uvicorn
    from node._synth import fill

    temp = base is None
    root = Path(tempfile.mkdtemp(prefix="rhip-demo-")) if base is None else base
    try:
        home = init_home(root / "clinic-nanlong", clinic="511321100", name="南隆镇卫生院 (demo)")
        db = home.database()
        store = home.store(db)
        started = time.monotonic()
        counts = fill(store, residents=residents, years=years, seed=2026)
        click.echo(
            f"synthesised {counts['residents']} residents and {counts['records']} records "
            f"in {time.monotonic() - started:.1f} s",
            err=True,
        )
        for user, role, display in DEMO_STAFF:
            add_user(db, user, role.value, DEMO_PASSWORD, display_name=display)
        token = issue_token(db, "doctor", kind="bearer", label="demo")
        click.echo("")
        click.echo(
            f"clinic node  {home.name}: http://127.0.0.1:{port}/   (API docs: http://127.0.0.1:{port}/schema)"
        )
        click.echo(f"logins       {', '.join(u for u, _, _ in DEMO_STAFF)}  — password: {DEMO_PASSWORD}")
        click.echo(
            f"try          curl -H 'Authorization: Bearer {token}' "
            f"'http://127.0.0.1:{port}/api/v1/residents?q=zs'"
        )
        click.echo(f"node home    {home.path}")
        sys.stdout.flush()
        if no_serve:
            return
        app = create_app(db, store, clinic=home.clinic, name=home.name)
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    finally:
        if temp and not no_serve:
            shutil.rmtree(root, ignore_errors=True)
