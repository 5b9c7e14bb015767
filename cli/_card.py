"""``rhip card …``: the resident health card — emulate one, issue one at the hub, read one at a node."""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import signal
import time
from pathlib import Path
from typing import Any

import click

from cardreader import (
    CardError,
    CardExpired,
    CardFiles,
    CardImage,
    CardRead,
    Channel,
    EmergencyNote,
    Emulator,
    ImageError,
    VirtualCard,
    open_card,
    read_files,
    write_card,
)
from hub import CardIssueError, HomeError, HubHome, issue_files
from node import HomeError as NodeHomeError
from node import NodeHome, NotFound, card_writes, match_card

__all__ = ["card"]

READER = click.option(
    "--reader", help="The card reader to use (default: the first one a card is inserted in)."
)
TIMEOUT = click.option(
    "--timeout",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0.5, 600),
    help="Seconds to wait for a card to be inserted.",
)
NODE_HOME = click.option(
    "--home",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The node's home directory (its hub key checks the card).",
)


def _node(path: Path) -> tuple[NodeHome, bytes]:
    try:
        home = NodeHome.open(path)
        return home, home.card_trust()
    except (NodeHomeError, CardError) as exc:
        raise click.ClickException(str(exc)) from None


def _with_card(reader: str | None, timeout: float) -> Any:
    """The PC/SC connection to the card in ``reader`` (or the first reader that gets one)."""
    from cardreader.pcsc import PcscCard, wait_for_card

    event = wait_for_card(reader=reader, timeout_s=timeout)
    return PcscCard(event.reader)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def card() -> None:
    """The resident health card: emulate one, issue one at the hub, read and update one at a node.

    \b
    Example:
        rhip card read --home ./clinic --json
    """


@card.command("emulate")
@click.option(
    "--image",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The card image to serve; updates written by the desk are saved back to it.",
)
@click.option(
    "--port",
    default=35963,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="The vpcd reader slot's port (35963: 'Virtual PCD 00 00', 35964: '… 00 01').",
)
@click.option("--t0", is_flag=True, help="Answer as a T=0 card: every response fetched with GET RESPONSE.")
def emulate(image: Path, port: int, t0: bool) -> None:
    """Insert a virtual resident health card into the vpcd virtual reader until Ctrl-C.

    Needs pcscd running with the vsmartcard-vpcd driver (installers/pcscd.sh).
    If pcscd restarts, the card is inserted again.

    \b
    Example:
        rhip card emulate --image zhangsan.card.json --port 35963
    """
    try:
        CardImage.load(image)
    except ImageError as exc:
        raise click.ClickException(str(exc)) from None
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    click.echo(f"card {image.name} in the virtual reader on 127.0.0.1:{port} (Ctrl-C takes it out)")
    try:
        while not stopping:
            emulator = Emulator.from_image(image, port=port, get_response=t0)
            try:
                emulator.connect(timeout_s=3600)
            except OSError as exc:
                raise click.ClickException(
                    f"port {port}: no vpcd reader listens there ({exc}); start pcscd (installers/pcscd.sh)"
                ) from None
            emulator.serve()
            time.sleep(0.5)  # pcscd went away (or took the card out): insert it again
    except KeyboardInterrupt:
        click.echo("card taken out")


@card.command("blank")
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Where to write the image."
)
def blank(out: Path) -> None:
    """Write the image of a blank (formatted, never issued) health card, for `card issue` to a reader.

    \b
    Example:
        rhip card blank --out blank.card.json && rhip card emulate --image blank.card.json
    """
    CardImage.blank().save(out)
    click.echo(f"blank card image written to {out}")


def _card_number(region: str) -> str:
    digits = re.sub(r"[^0-9]", "", region)[:6].ljust(6, "0")
    return f"{digits}{secrets.randbelow(10**10):010d}"


@card.command("issue")
@click.option(
    "--home",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The hub's home directory (its card-issuing key signs the card).",
)
@click.option("--id-number", required=True, help="The resident's 18-digit identity number.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a card image file instead of the card in the reader.",
)
@click.option("--card-number", help="The card number (default: the resident's own, else a new one).")
@click.option(
    "--authority",
    default="区域卫生健康委员会",
    show_default=True,
    help="The issuing authority's name printed into the card (at most 30 characters).",
)
@READER
@TIMEOUT
def issue(
    *,
    home: Path,
    id_number: str,
    out: Path | None,
    card_number: str | None,
    authority: str,
    reader: str | None,
    timeout: float,
) -> None:
    """Personalise a resident health card for a resident the hub knows, signed by the region's key.

    Identity, emergency data (blood group, allergies, serious conditions,
    emergency contacts), insurance number and the most recent visits come from
    the hub's records. Written to the card in the reader, or with --out to an
    image file (for the emulator).

    \b
    Example:
        rhip card issue --home ./hub --id-number 511321197005120012 --out zhangsan.card.json
    """
    try:
        h = HubHome.open(home)
        issuer = h.card_issuer()
        db = h.database()
    except HomeError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        content, files = issue_files(
            h.store(db).reads(),
            id_number.strip().upper(),
            issuer=issuer,
            authority_code=h.region,
            authority_name=authority,
            issued_on=dt.datetime.now().date(),
            new_card_number=lambda: _card_number(h.region),
            card_number=card_number,
        )
    except CardIssueError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.close()
    where = str(out)
    if out is not None:
        image = CardImage.blank()
        for fid, data in files.items():
            if isinstance(data, list):
                image.records[fid] = data
            else:
                image.files[fid][: len(data)] = data
        image.save(out)
    else:
        try:
            with _with_card(reader, timeout) as connection:
                write_card(Channel(connection.transmit), files)
                where = f"the card in {connection.reader!r}"
        except CardError as exc:
            raise click.ClickException(f"the card was not issued: {exc}") from None
    click.echo(
        f"card {content.issuer.card_number} issued (valid to {content.issuer.expires_on}, "
        f"{len(content.visits)} recent visit(s)) to {where}"
    )


def _print_read(read: CardRead, as_json: bool, warning: str | None) -> None:
    body = read.as_json()
    if warning:
        body["warning"] = warning
    if as_json:
        click.echo(json.dumps(body, ensure_ascii=False))
        return
    h, e = body["holder"], body["emergency"]
    click.echo(f"card {body['card_number']}  verified  ({body['issuer']['authority_name']})")
    click.echo(f"holder:     {h['name']}  sex {h['sex']}  born {h['birth_date']}  ID {h['id_number']}")
    click.echo(f"blood:      {e['blood']['abo']} Rh {e['blood']['rh']}")
    for a in e["allergies"]:
        click.echo(f"ALLERGY:    {a['substance']}  {a['reaction'] or ''}  {a['severity'] or ''}".rstrip())
    for c in e["conditions"]:
        click.echo(f"condition:  {c['zh']} ({c['en']})")
    for n in e["added_by_clinics"]:
        what = n["allergy"]["substance"] if n["allergy"] else (n["condition"] or n["blood"])
        click.echo(f"added:      {what} (clinic {n['clinic']}, {n['on']}; not issuer-signed)")
    for c in e["contacts"]:
        click.echo(f"contact:    {c['name']} ({c['relation']}) {c['phone']}")
    for v in body["visits"]:
        click.echo(f"visit:      {v['on']} {v['clinic_name']}  {' '.join(v['diagnoses'])}")
    for d in body["damaged"]:
        click.echo(f"damaged:    {d}", err=True)
    if warning:
        click.echo(f"WARNING: {warning}", err=True)


def _fail(exc: CardError, as_json: bool) -> None:
    if as_json:
        click.echo(
            json.dumps({"verified": False, "reason": exc.reason, "message": str(exc)}, ensure_ascii=False)
        )
        raise SystemExit(1)
    raise click.ClickException(f"{exc} [{exc.reason}]")


@card.command("read")
@NODE_HOME
@click.option("--json", "as_json", is_flag=True, help='Print the card as one JSON object with "verified".')
@READER
@TIMEOUT
def read(home: Path, as_json: bool, reader: str | None, timeout: float) -> None:
    """Read the card in the reader and check it against the hub key this node enrolled with.

    Exits 0 for a genuine card, 3 for a genuine but expired one (its data is
    shown with a warning) and 1 for anything else — forged, altered, damaged,
    blocked, not a health card, no card — with the reason.

    \b
    Example:
        rhip card read --home ./clinic --json
    """
    _, trust = _node(home)
    try:
        with _with_card(reader, timeout) as connection:
            files = read_files(Channel(connection.transmit))
    except CardError as exc:
        _fail(exc, as_json)
        return
    _open_and_print(files, trust, as_json)


@card.command("show")
@NODE_HOME
@click.option(
    "--image",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The card image file to show.",
)
@click.option("--json", "as_json", is_flag=True, help='Print the card as one JSON object with "verified".')
def show(home: Path, image: Path, as_json: bool) -> None:
    """Show a card image as a node sees it (checked, no reader needed): for training and support.

    \b
    Example:
        rhip card show --home ./clinic --image zhangsan.card.json
    """
    _, trust = _node(home)
    try:
        card_image = CardImage.load(image)
    except ImageError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        files = read_files(Channel(VirtualCard(card_image).process))
    except CardError as exc:
        _fail(exc, as_json)
        return
    _open_and_print(files, trust, as_json)


def _open_and_print(files: CardFiles, trust: bytes, as_json: bool) -> None:
    """Check the card's files and print them; exit 3 for an expired card, 1 for one that fails."""
    try:
        result = open_card(files, trust=trust, today=dt.datetime.now().date())
    except CardExpired as exc:
        _print_read(exc.card, as_json, str(exc))
        raise SystemExit(3) from None
    except CardError as exc:
        _fail(exc, as_json)
        return
    _print_read(result, as_json, None)


@card.command("write-visit")
@NODE_HOME
@click.option("--encounter", required=True, help="The id of the visit's encounter record on this node.")
@READER
@TIMEOUT
def write_visit(home: Path, encounter: str, reader: str | None, timeout: float) -> None:
    """At the end of a visit, write it into the card's recent-visits ring, with any new emergency data.

    New allergies and serious conditions this node knows and the card does not
    show are added as emergency notes (marked with this clinic and date).

    \b
    Example:
        rhip card write-visit --home ./clinic --encounter 0192f3a4-…
    """
    h, trust = _node(home)
    db = h.database()
    store = h.store(db)
    try:
        with _with_card(reader, timeout) as connection:
            ch = Channel(connection.transmit)
            result = open_card(read_files(ch), trust=trust, today=dt.datetime.now().date())
            match = match_card(store, result.content)
            if match is None:
                raise click.ClickException(
                    "this card's holder is not registered at this node; register them first"
                )
            writes = card_writes(
                store,
                match.resident_id,
                encounter,
                result.content,
                clinic=h.clinic,
                clinic_name=h.name,
                today=dt.datetime.now().date(),
            )
            number = result.content.issuer.card_number
            writes.write(ch, result.content)
            notes: list[EmergencyNote] = writes.notes
    except (CardError, NotFound) as exc:
        raise click.ClickException(f"the card was not updated: {exc}") from None
    finally:
        db.close()
    click.echo(f"visit of {writes.visit.on} written to card {number}; {len(notes)} emergency note(s) added")
