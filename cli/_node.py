"""``rhip node …``: set up and run a clinic node."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import click

from node import (
    DEFAULT_PURPOSE,
    AuthError,
    Database,
    DeskReader,
    HomeError,
    HubConfig,
    NodeHome,
    NotEnrolled,
    NotFound,
    Permission,
    Role,
    Staff,
    SyncClient,
    SyncError,
    SyncScheduler,
    add_user,
    allowed,
    create_app,
    desk_staff,
    enroll,
    init_home,
    issue_token,
    record_access,
    sync_interval,
    sync_status,
)
from schemas import RecordInvalid

__all__ = ["acting_as", "node", "open_home"]

HOME = click.option(
    "--home",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The node's home directory (config, keys, database).",
)


def open_home(path: Path) -> NodeHome:
    try:
        return NodeHome.open(path)
    except HomeError as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def acting_as(
    home: Path, user: str, permission: Permission, *errors: type[Exception]
) -> Iterator[tuple[NodeHome, Database, Staff]]:
    """The node as staff account ``user``: refused, and audited, unless its role holds ``permission``.

    A store error (and any of ``errors``) raised while acting becomes a one-line message.
    """
    h = open_home(home)
    db = h.database()
    try:
        staff = desk_staff(db, user)
        if not allowed(staff.role, permission):
            record_access(
                db,
                user=staff.name,
                role=staff.role.value,
                action=f"denied:{permission.value}",
                reason=DEFAULT_PURPOSE[staff.role],
                detail={"route": "cli"},
            )
            raise click.ClickException(f"user: role {staff.role.value} may not {permission.value}")
        yield h, db, staff
    except Exception as exc:
        if not isinstance(exc, (RecordInvalid, NotFound, AuthError, *errors)):
            raise
        raise click.ClickException(str(exc)) from None
    finally:
        db.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def node() -> None:
    """Set up and run a township clinic's node.

    \b
    Example:
        rhip node init --home ./clinic --clinic 511321100 --name "南隆镇卫生院"
    """


@node.command("init")
@HOME
@click.option("--clinic", required=True, help="The clinic's code (its township division code, for example).")
@click.option("--name", required=True, help="The clinic's name as staff and residents know it.")
def init(home: Path, clinic: str, name: str) -> None:
    """Create a node: configuration, an Ed25519 key pair (owner-only) and the database.

    \b
    Example:
        rhip node init --home ./clinic --clinic 511321100 --name "南隆镇卫生院"
    """
    try:
        h = init_home(home, clinic=clinic, name=name)
    except HomeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"node {h.node_id} for clinic {h.clinic} ({h.name}) created in {h.path}")


@node.command("serve")
@HOME
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8100, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on."
)
@click.option(
    "--card-reader",
    default="auto",
    show_default=True,
    help="The registration desk's PC/SC reader, by name; 'auto': the first one found; 'none': no reader.",
)
def serve(home: Path, host: str, port: int, card_reader: str) -> None:
    """Run the node's web API and, once enrolled, sync with the hub in the background.

    Sync runs every sync_interval_s seconds (config.json, default 30) while the
    hub answers and backs off when it does not; the API never waits for it.
    A card put into the desk's reader opens its holder on the desk page.

    \b
    Example:
        rhip node serve --home ./clinic --port 8100
    """
    import uvicorn

    h = open_home(home)
    db = h.database()
    store = h.store(db)
    client: SyncClient | None = None
    scheduler: SyncScheduler | None = None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("apscheduler", "httpx"):  # a line per tick and per request to the hub
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if HubConfig.path_in(h.path).exists():
        try:
            client = SyncClient.for_home(h, store)
        except SyncError as exc:
            raise click.ClickException(str(exc)) from None
        scheduler = SyncScheduler(client, interval_s=sync_interval(h.path))
    trust = client.hub.public_key if client is not None else None  # checks resident health cards
    reader = DeskReader(None if card_reader == "none" else card_reader)
    app = create_app(
        db, store, clinic=h.clinic, name=h.name, sync=client, card_trust=trust, desk_reader=reader
    )
    click.echo(f"node {h.clinic} ({h.name}) listening on http://{host}:{port}/  (API docs: /schema)")
    if scheduler is None:
        click.echo("not enrolled with a hub: working offline (rhip node enroll -h)")
    else:
        click.echo(f"syncing with {scheduler.client.hub.hub_url} every {scheduler.interval_s:g} s")
        scheduler.start()
    reader.start()
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
    finally:
        reader.stop()
        if scheduler is not None:
            scheduler.shutdown()
        if client is not None:
            client.close()


@node.command("add-user")
@HOME
@click.option("--user", required=True, help="Login name (a-z, 0-9, '.', '_', '-').")
@click.option(
    "--role", required=True, type=click.Choice([r.value for r in Role]), help="What the account may do."
)
@click.option(
    "--password-file",
    type=click.File("r", encoding="utf-8"),
    help="Read the password from this file's first line (- for stdin); asked for when absent.",
)
@click.option("--display-name", help="The name shown on pages (e.g. 张医生).")
def add_user_cmd(
    home: Path, user: str, role: str, password_file: TextIO | None, display_name: str | None
) -> None:
    """Create a staff account.

    \b
    Example:
        rhip node add-user --home ./clinic --user wangli --role doctor --password-file pw.txt
    """
    h = open_home(home)
    if password_file is not None:
        password = password_file.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        staff = add_user(h.database(), user, role, password, display_name=display_name)
    except AuthError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"added {staff.name} ({staff.role.value})")


@node.command("token")
@HOME
@click.option("--user", required=True, help="The account the token acts as.")
@click.option("--label", help="What the token is for (shown to the admin).")
def token(home: Path, user: str, label: str | None) -> None:
    """Print a new bearer token for scripts (last line of output). Keep it secret.

    \b
    Example:
        TOKEN=$(rhip node token --home ./clinic --user wangli | tail -n1)
        curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8100/api/v1/residents?q=zs
    """
    h = open_home(home)
    try:
        value = issue_token(h.database(), user.strip().lower(), kind="bearer", label=label)
    except AuthError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"bearer token for {user} (send as 'Authorization: Bearer …'):", err=True)
    click.echo(value)


@node.command("enroll")
@HOME
@click.option("--hub", "hub_url", required=True, help="The regional hub's URL, e.g. https://hub.example.org.")
@click.option("--token", required=True, help="The one-time enrolment token the hub operator issued.")
@click.option(
    "--ca-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The region's CA certificate (PEM) to verify an https hub against.",
)
def enroll_cmd(home: Path, hub_url: str, token: str, ca_file: Path | None) -> None:
    """Register this node's key with the hub and keep the hub's (HOME/hub.json).

    \b
    Example:
        rhip node enroll --home ./clinic --hub https://hub.example.org --token 7Q4-… --ca-file region-ca.pem
    """
    h = open_home(home)
    try:
        config = enroll(h, hub_url=hub_url, token=token, ca_file=ca_file)
    except SyncError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"enrolled node {h.node_id} with hub {config.hub_id} (region {config.region}) at {config.hub_url}"
    )


@node.command("sync")
@HOME
def sync_cmd(home: Path) -> None:
    """Sync with the hub now: push every record it lacks, then pull what this clinic should hold.

    Exits 0 when the hub holds everything; otherwise non-zero with the reason.
    Nothing is lost either way: unsent records wait in the outbox. A node
    restored from an old backup (the hub holds more of its feed than its
    database) refuses to push and keeps everything: re-enrol it as a new node.

    \b
    Example:
        rhip node sync --home ./clinic
    """
    h = open_home(home)
    db = h.database()
    try:
        client = SyncClient.for_home(h, h.store(db))
    except SyncError as exc:
        db.close()
        raise click.ClickException(str(exc)) from None
    try:
        result = client.round()
    except SyncError as exc:
        pending = sync_status(db)["pending"]
        raise click.ClickException(
            f"sync failed ({exc.reason}): {exc} [{pending} record(s) wait on this node; nothing is lost]"
        ) from None
    finally:
        client.close()
        db.close()
    if result.pending:
        raise click.ClickException(
            f"{result.pending} record(s) written during the sync are not on the hub yet; run it again"
        )
    click.echo(
        f"the hub holds everything: {result.pushed} changeset(s) sent (hub head {result.hub_head}), "
        f"{result.pulled} pulled ({result.applied} record(s))"
    )
    if result.held:
        click.echo(
            f"the hub holds back {result.held} record(s) it cannot apply yet; see rhip node status", err=True
        )


@node.command("status")
@HOME
@click.option("--json", "as_json", is_flag=True, help="Print the state as one JSON object.")
def status_cmd(home: Path, as_json: bool) -> None:
    """Show how this node stands with the hub: records pending, last sync, hub head, errors.

    --json prints {"pending", "last_sync", "hub_head", "errors"}.

    \b
    Example:
        rhip node status --home ./clinic --json
    """
    h = open_home(home)
    db = h.database()
    try:
        state = sync_status(db)
    finally:
        db.close()
    if as_json:
        click.echo(json.dumps(state, ensure_ascii=False))
        return
    try:
        hub = HubConfig.load(h.path)
        click.echo(f"hub:        {hub.hub_url} ({hub.hub_id}, region {hub.region})")
    except NotEnrolled:
        click.echo("hub:        not enrolled (rhip node enroll -h)")
    except SyncError as exc:
        click.echo(f"hub:        {exc}")
    click.echo(f"pending:    {state['pending']} record(s) not yet on the hub")
    click.echo(f"last sync:  {state['last_sync'] or 'never'}")
    click.echo(f"hub head:   {'unknown' if state['hub_head'] is None else state['hub_head']}")
    if not state["errors"]:
        click.echo("errors:     none")
    for err in state["errors"]:
        click.echo(f"- {err['at']} [{err['kind']}: {err['reason']}] {err['message']}")
