"""``rhip hub …``: set up and run the regional hub."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import click

from hub import (
    TOKEN_TTL_MS,
    EnrolRefused,
    HomeError,
    HubHome,
    IdentityRefused,
    create_app,
    init_hub_home,
    iso,
    issue_token,
    privacy_rules,
    retry_held,
    revoke_clinic,
    set_sensitive,
)

from ._hub_mpi import mpi

__all__ = ["hub"]

HOME = click.option(
    "--home",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The hub's home directory (config, keys, database).",
)
CLINIC = click.option("--clinic", required=True, help="The clinic's code, as its node was set up with.")


def _open(path: Path) -> HubHome:
    try:
        return HubHome.open(path)
    except HomeError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def hub() -> None:
    """Run the regional hub: enrol clinic nodes, take their changesets, serve their feeds.

    \b
    Example:
        rhip hub init --home ./hub --region 511321
    """


@hub.command("init")
@HOME
@click.option("--region", required=True, help="The region's code (its GB/T 2260 division code).")
def init(home: Path, region: str) -> None:
    """Create a hub: configuration, an Ed25519 key pair (owner-only) and the database.

    \b
    Example:
        rhip hub init --home ./hub --region 511321
    """
    try:
        h = init_hub_home(home, region=region)
    except HomeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"hub {h.hub_id} for region {h.region} created in {h.path}")
    click.echo(f"hub public key: {h.public_key().hex()}")


@hub.command("serve")
@HOME
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8200, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on."
)
@click.option(
    "--check-workers",
    type=click.IntRange(0, 64),
    default=None,
    help="Processes that check pushed records (schemas) beside the server; 0 checks in the server "
    "process. Default: one per CPU core.",
)
@click.option(
    "--silent-after",
    type=click.IntRange(1, 30 * 24 * 60),
    default=None,
    metavar="MINUTES",
    help="Alert (console, `rhip hub status`) when a node is unheard of for longer than this; kept in the "
    "hub's database for later runs. Default: what was set before, else 60.",
)
def serve(home: Path, host: str, port: int, check_workers: int | None, silent_after: int | None) -> None:
    """Run the hub's sync API, the operators' console pages at /console and their status at
    /api/v1/status (both loopback only).

    Held records are retried at start-up.

    \b
    Example:
        rhip hub serve --home ./hub --host 0.0.0.0 --port 8200 --silent-after 120
    """
    import uvicorn

    h = _open(home)
    workers = check_workers if check_workers is not None else (os.cpu_count() or 1)
    store = h.store()
    if silent_after is not None:
        with store.transaction() as tx:
            tx.set_silent_after_ms(silent_after * 60_000)
    app = create_app(
        store, key=h.key(), hub_id=h.hub_id, region=h.region, check_workers=workers, link="background"
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    click.echo(f"hub {h.hub_id} (region {h.region}) listening on http://{host}:{port}/sync/v1")
    local = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - comparing, not binding
    click.echo(f"operators' console (loopback only): http://{local}:{port}/console")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


@hub.command("enroll-token")
@HOME
@CLINIC
def enroll_token(home: Path, clinic: str) -> None:
    """Print a one-time enrolment token for a clinic's node (last line of output). Keep it secret.

    The token expires after 7 days and works once.

    \b
    Example:
        TOKEN=$(rhip hub enroll-token --home ./hub --clinic 511321100 | tail -n1)
        rhip node enroll --home ./clinic --hub http://hub.example:8200 --token "$TOKEN"
    """
    h = _open(home)
    store = h.store()
    try:
        token = issue_token(store, clinic)
    except EnrolRefused as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.db.close()
    expires = iso(store.now_ms() + TOKEN_TTL_MS)
    click.echo(f"enrolment token for clinic {clinic} (works once, expires {expires}):", err=True)
    click.echo(token)


@hub.command("revoke")
@HOME
@CLINIC
@click.option(
    "--reason",
    default="revoked by the hub operator",
    show_default=True,
    help="Why; the clinic's node is told this when the hub refuses it.",
)
def revoke(home: Path, clinic: str, reason: str) -> None:
    """Revoke the keys of a clinic's nodes and its unused enrolment tokens.

    \b
    Example:
        rhip hub revoke --home ./hub --clinic 511321100 --reason "laptop stolen"
    """
    h = _open(home)
    store = h.store()
    try:
        done = revoke_clinic(store, clinic, reason=reason)
    finally:
        store.db.close()
    if not done.nodes and not done.tokens:
        raise click.ClickException(f"clinic {clinic} has no enrolled node and no open token to revoke")
    for node_id in done.nodes:
        click.echo(f"revoked node {node_id} of clinic {clinic}")
    click.echo(f"revoked {done.tokens} unused enrolment token(s) of clinic {clinic}")


@hub.command("status")
@HOME
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts instead of a table.")
def status(home: Path, as_json: bool) -> None:
    """Show every node: head, records, last contact, clock skew, forks and held records.

    \b
    Example:
        rhip hub status --home ./hub --json
    """
    h = _open(home)
    store = h.store()
    try:
        report = store.status()
    finally:
        store.db.close()
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    if not report["nodes"]:
        click.echo("no nodes enrolled; issue a token with `rhip hub enroll-token`")
    for n in report["nodes"]:
        flags = " REVOKED" if n["revoked"] else ""
        skew = "-" if n["skew_s"] is None else f"{n['skew_s']:+.0f}s"
        click.echo(
            f"{n['clinic']:<12} {n['name']} ({n['node_id']}){flags}: head {n['head']}, "
            f"{n['records']} records, last seen {n['last_seen'] or 'never'}, skew {skew}"
        )
        for q in n["quarantined"]:
            click.echo(f"    FORK at seq {q['seq']} ({q['received_at']}): quarantined, not applied")
        for held in n["held"]:
            click.echo(
                f"    held {held['record_id']} (seq {held['seq']}): {held['reason']}: {held['detail']}"
            )
    if report["review_open"]:
        click.echo(f"{report['review_open']} master-index review item(s) open: `rhip hub mpi review`")
    for alert in report["alerts"]:
        click.echo(f"ALERT {alert['at']} {alert['kind']}: {alert['detail']}")


@hub.command("retry-held")
@HOME
def retry_held_cmd(home: Path) -> None:
    """Apply held records whose cause is gone (after upgrading the hub, say).

    \b
    Example:
        rhip hub retry-held --home ./hub
    """
    h = _open(home)
    store = h.store()
    try:
        report = retry_held(store, h.key())
    finally:
        store.db.close()
    click.echo(f"{report.applied} held record(s) applied, {len(report.still_held)} still held")
    for held in report.still_held:
        click.echo(f"    held {held.record_id} of node {held.node_id}: {held.reason}: {held.detail}")


@hub.command("privacy")
@HOME
@click.option(
    "--sensitive",
    multiple=True,
    help="A record type or ICD-10 code, prefix or range (F32, A50-A64) to treat as sensitive; repeatable.",
)
@click.option(
    "--not-sensitive",
    "not_sensitive",
    multiple=True,
    help="Remove one an operator added (the built-in ones stay); repeatable.",
)
@click.option("--by", help="Who changes the rules (required with --sensitive/--not-sensitive).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def privacy(
    home: Path, sensitive: tuple[str, ...], not_sensitive: tuple[str, ...], by: str | None, as_json: bool
) -> None:
    """Show or change the sensitive categories: never shared with other clinics without the
    resident's consent (built in: severe mental disorder follow-ups, HIV B20-B24, STD A50-A64,
    psychoses F20-F29, bipolar F31).

    \b
    Example:
        rhip hub privacy --home ./hub --sensitive F32 --sensitive tb_followup --by wangli
    """
    h = _open(home)
    store = h.store()
    try:
        if sensitive or not_sensitive:
            if not by:
                raise click.ClickException("say who changes the rules with --by NAME")
            rules = set_sensitive(store, add=sensitive, remove=not_sensitive, by=by)
        else:
            rules = privacy_rules(store)
    except IdentityRefused as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        store.db.close()
    if as_json:
        click.echo(json.dumps(rules, ensure_ascii=False, indent=2))
        return
    click.echo(f"sensitive record types: {', '.join(rules['types'])}")
    click.echo(f"sensitive ICD-10 prefixes: {', '.join(rules['icd_prefixes'])}")
    for entry in rules["added"]:
        click.echo(f"  added by {entry['by']}: {entry['value']} ({entry['kind']})")


hub.add_command(mpi)
