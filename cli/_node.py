"""``rhip node …``: set up and run a clinic node."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TextIO

import click

from node import AuthError, HomeError, NodeHome, Role, add_user, create_app, init_home, issue_token

__all__ = ["node", "open_home"]

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
def serve(home: Path, host: str, port: int) -> None:
    """Run the node's web API (and, later, its pages and sync jobs).

    \b
    Example:
        rhip node serve --home ./clinic --port 8100
    """
    import uvicorn

    h = open_home(home)
    db = h.database()
    app = create_app(db, h.store(db), clinic=h.clinic, name=h.name)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    click.echo(f"node {h.clinic} ({h.name}) listening on http://{host}:{port}/  (API docs: /schema)")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


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
