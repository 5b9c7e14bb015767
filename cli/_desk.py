"""``rhip desk …``: the desk workflow of a visit at a node, step by step, from the command line.

Each command acts on the node's database directly (no server needed, no hub
needed) as the staff account ``--user``, whose role must allow the step, as
through the API; every step and every read of a person's data is audited.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from cardreader import (
    CardError,
    CardExpired,
    CardImage,
    CardRead,
    Channel,
    ImageError,
    VirtualCard,
    open_card,
    read_files,
)
from node import (
    DEFAULT_PURPOSE,
    Desk,
    DeskConflict,
    DeskResult,
    NodeHome,
    Permission,
    PresentedCard,
    Staff,
    exam_worklist,
    queue_entry,
    record_access,
)
from schemas import Step, code_list, fen_to_yuan

from ._node import HOME, acting_as, open_home

__all__ = ["desk"]

USER = click.option(
    "--user", required=True, help="The staff account doing this (its role must allow the step)."
)
VISIT = click.option("--visit", "visit_id", required=True, help="The visit's id (rhip desk queue shows it).")
JSON_OUT = click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
WORKSTATION = click.option("--workstation", help="Where this is done (诊室2, 分诊台 …), kept with the step.")
CARD = click.option("--card", "use_reader", is_flag=True, help="Read the health card in the card reader.")
CARD_IMAGE = click.option(
    "--card-image",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Read a card image file instead of a reader (training, the card emulator's image).",
)
READER = click.option("--reader", help="The card reader to use (default: the first one a card is in).")


@contextmanager
def _session(home: Path, user: str, permission: Permission) -> Iterator[tuple[Desk, Staff, NodeHome]]:
    """The node's desk as ``user``, refused unless the role holds ``permission``; errors become messages."""
    with acting_as(home, user, permission, DeskConflict, CardError) as (h, db, staff):
        yield Desk(h.store(db), clinic=h.clinic), staff, h


def _audit(
    desk: Desk,
    staff: Staff,
    action: str,
    *,
    resident_id: str | None = None,
    record_id: str | None = None,
    detail: dict[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    record_access(
        desk.store.db,
        user=staff.name,
        role=staff.role.value,
        action=action,
        reason=reason or DEFAULT_PURPOSE[staff.role],
        resident_id=resident_id,
        record_id=record_id,
        detail=detail,
    )


def _done(desk: Desk, staff: Staff, action: str, result: DeskResult, *, as_json: bool, line: str) -> None:
    _audit(
        desk,
        staff,
        f"desk:{action}",
        resident_id=result.state.resident_id,
        record_id=result.state.visit_id,
        detail={"records": [r.id for r in result.records], "route": "cli"},
        reason="care",
    )
    if as_json:
        click.echo(json.dumps(result.as_json(), ensure_ascii=False))
    else:
        s = result.state
        click.echo(
            f"{line} — visit {s.visit_id} no. {s.queue_number} ({_zh('department', s.department)}): {s.step}"
        )


def _zh(list_name: str, code: str) -> str:
    entry = code_list(list_name).get(code)
    return entry.zh if entry else code


def _json_file(path: Path, what: str) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.BadParameter(f"{path}: not a JSON file ({exc})", param_hint="'--file'") from None
    if not isinstance(value, dict):
        raise click.BadParameter(f"{path}: must hold one JSON object ({what})", param_hint="'--file'")
    return value


def _read_card(h: NodeHome, use_reader: bool, image: Path | None, reader: str | None) -> CardRead:
    """The card from the reader or an image file, checked against the node's hub key (expired: warned)."""
    trust = h.card_trust()
    if image is not None:
        try:
            files = read_files(Channel(VirtualCard(CardImage.load(image)).process))
        except ImageError as exc:
            raise click.BadParameter(str(exc), param_hint="'--card-image'") from None
    elif use_reader:
        from cardreader.pcsc import PcscCard, wait_for_card

        with PcscCard(wait_for_card(reader=reader, timeout_s=30).reader) as connection:
            files = read_files(Channel(connection.transmit))
    else:
        raise click.UsageError("give --card (the reader) or --card-image FILE")
    try:
        return open_card(files, trust=trust, today=dt.datetime.now().date())
    except CardExpired as exc:
        click.echo(f"warning: {exc}", err=True)
        return exc.card


def _presented(card: CardRead) -> PresentedCard:
    return PresentedCard(card.content, card.key_id, card.expired)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def desk() -> None:
    """The desk workflow of a visit: card, queue, triage, consultation, payment, pharmacy, exams.

    Every step is recorded at once and syncs with the hub when it can; nothing
    here needs the network. The pages come with the staff pages.

    \b
    Example:
        rhip desk checkin --home ./clinic --user wangfang --resident 0192… --department general
        rhip desk queue --home ./clinic --user wangfang --step registered,waiting
    """


# -- the card and the queue -------------------------------------------------------------------------


@desk.command("register-card")
@HOME
@USER
@CARD
@CARD_IMAGE
@READER
@JSON_OUT
def register_card(
    *, home: Path, user: str, use_reader: bool, card_image: Path | None, reader: str | None, as_json: bool
) -> None:
    """Find the card's holder here, or register them provisionally from the verified card.

    The provisional resident holds what the card proves (name, sex, birth date,
    identity number, card and insurance numbers) until the hub's master index
    links them; complete the address and phone later. A forged or damaged card is refused.

    \b
    Example:
        rhip desk register-card --home ./clinic --user wangfang --card
    """
    with _session(home, user, Permission.REGISTER) as (d, staff, h):
        card = _read_card(h, use_reader, card_image, reader)
        holder = d.register_from_card(_presented(card), user=staff)
        _audit(
            d,
            staff,
            "register:card" if holder.created else "read:card",
            resident_id=holder.resident_id,
            detail={"card_number": card.content.issuer.card_number, "route": "cli"},
            reason="registration",
        )
        if as_json:
            click.echo(json.dumps(holder.as_json(), ensure_ascii=False))
        elif holder.created:
            click.echo(f"registered provisionally from the card: resident {holder.resident_id}")
            for dup in holder.duplicates:
                click.echo(f"  likely the same person: {dup.resident_id} (score {dup.score:.2f})", err=True)
        else:
            click.echo(f"known here: resident {holder.resident_id}")


@desk.command("checkin")
@HOME
@USER
@click.option("--resident", "resident_id", help="The resident's id (or use --card / --card-image).")
@CARD
@CARD_IMAGE
@READER
@click.option("--department", required=True, help="Department code: general, paediatrics, surgery, tcm …")
@click.option("--doctor", help="The doctor the resident asked for, if any.")
@click.option(
    "--scheme", help="Insurance scheme code (default: urban_rural_resident with an insurance number)."
)
@click.option(
    "--fee",
    "fees",
    multiple=True,
    help="Registration fee service code (repeat; default general_consultation).",
)
@click.option(
    "--no-fee", is_flag=True, help="Charge no registration fee (free follow-up, public health visit)."
)
@JSON_OUT
def checkin(
    *,
    home: Path,
    user: str,
    resident_id: str | None,
    use_reader: bool,
    card_image: Path | None,
    reader: str | None,
    department: str,
    doctor: str | None,
    scheme: str | None,
    fees: tuple[str, ...],
    no_fee: bool,
    as_json: bool,
) -> None:
    """Put a resident in today's queue of a department and print the queue number.

    With a card, the holder is found or registered provisionally first, in the same step.

    \b
    Example:
        rhip desk checkin --home ./clinic --user wangfang --card-image zhangsan.card.json --department general
    """
    with _session(home, user, Permission.DESK_CHECKIN) as (d, staff, h):
        card = None
        if use_reader or card_image is not None:
            card = _presented(_read_card(h, use_reader, card_image, reader))
        elif resident_id is None:
            raise click.UsageError("give --resident ID, --card or --card-image FILE")
        chosen = [] if no_fee else [{"service": f} for f in fees] if fees else None
        result = d.checkin(
            user=staff,
            department=department,
            resident_id=resident_id,
            card=card,
            doctor=doctor,
            scheme=scheme,
            fees=chosen,
        )
        _done(d, staff, "checkin", result, as_json=as_json, line=f"queue number {result.state.queue_number}")


@desk.command("queue")
@HOME
@USER
@click.option("--day", type=click.DateTime(["%Y-%m-%d"]), help="The day (YYYY-MM-DD); default today.")
@click.option("--department", help="Only this department (a code).")
@click.option("--step", help="Only these steps, comma-separated (registered,waiting,awaiting_payment …).")
@click.option(
    "--pending",
    type=click.Choice(["payment", "dispensing", "exams"]),
    help="Only visits with this work open.",
)
@JSON_OUT
def queue(
    *,
    home: Path,
    user: str,
    day: dt.datetime | None,
    department: str | None,
    step: str | None,
    pending: str | None,
    as_json: bool,
) -> None:
    """A workstation's queue: the day's visits with their number, step and waiting time.

    \b
    Example:
        rhip desk queue --home ./clinic --user zhaoyao --pending dispensing --json
    """
    try:
        steps = {Step(s.strip()) for s in step.split(",")} if step else None
    except ValueError:
        raise click.BadParameter(f"{step!r}: known steps are {', '.join(s.value for s in Step)}") from None
    with _session(home, user, Permission.DESK_QUEUE) as (d, staff, _):
        now = d.now()
        states = [
            s
            for s in d.queue(day.date() if day else None, department=department)
            if (steps is None or s.step in steps) and (pending is None or pending in s.pending)
        ]
        people = {r["id"]: r for r in d.store.resident_summaries(sorted({s.resident_id for s in states}))}
        _audit(
            d,
            staff,
            "read:queue",
            detail={"step": step, "pending": pending, "residents": sorted(people), "route": "cli"},
        )
        entries = [queue_entry(s, people.get(s.resident_id), now) for s in states]
        if as_json:
            click.echo(json.dumps({"visits": entries}, ensure_ascii=False))
            return
        for e in entries:
            who = e["resident"]["name"] if e["resident"] else e["visit_id"]
            wait = f"{e['waiting_minutes']} min" if e["waiting_minutes"] is not None else "-"
            todo = ",".join(e["pending"]) or "-"
            click.echo(
                f"{_zh('department', e['department'])} {e['queue_number']:>3}  {who}  {e['step']:<20} "
                f"wait {wait:<7} open: {todo}  {e['visit_id']}"
            )
        if not entries:
            click.echo("no visits")


@desk.command("show")
@HOME
@USER
@VISIT
@JSON_OUT
def show(*, home: Path, user: str, visit_id: str, as_json: bool) -> None:
    """One visit: its step, charges, medicine, orders and every step so far.

    \b
    Example:
        rhip desk show --home ./clinic --user wangfang --visit 0192f3a4-…
    """
    with _session(home, user, Permission.DESK_QUEUE) as (d, staff, _):
        state = d.visit(visit_id)
        _audit(d, staff, "read:visit", resident_id=state.resident_id, record_id=visit_id)
        if as_json:
            click.echo(json.dumps(state.as_json(), ensure_ascii=False))
            return
        click.echo(
            f"visit {state.visit_id} no. {state.queue_number} "
            f"({_zh('department', state.department)}): {state.step}"
        )
        for c in state.charges:
            click.echo(f"  {c.name} ×{c.owed}  paid {c.paid}  due {fen_to_yuan(c.due * c.unit_price_fen)}")
        for dl in state.drugs:
            click.echo(f"  medicine {dl.drug}: paid {dl.paid}, handed over {dl.dispensed}")
        for o in state.orders:
            click.echo(f"  order {o.order_id} {o.service}: {o.as_json()['status']}")
        for e in state.events:
            click.echo(f"  {e.at}  {e.kind:<10} {e.by or ''}")
        for a in state.anomalies:
            click.echo(f"  ! {a}")


# -- triage and the consulting room ------------------------------------------------------------------


@desk.command("triage")
@HOME
@USER
@VISIT
@click.option(
    "--vitals", help='Vitals as JSON: \'{"temperature_c": 38.2, "systolic": 130, "diastolic": 85}\'.'
)
@WORKSTATION
@JSON_OUT
def triage(
    *, home: Path, user: str, visit_id: str, vitals: str | None, workstation: str | None, as_json: bool
) -> None:
    """Triage (with vitals if taken): the resident now waits for the doctor.

    \b
    Example:
        rhip desk triage --home ./clinic --user zhaoq --visit 0192… --vitals '{"temperature_c": 38.2}'
    """
    values = None
    if vitals is not None:
        try:
            values = json.loads(vitals)
        except ValueError:
            raise click.BadParameter("must be a JSON object", param_hint="'--vitals'") from None
        if not isinstance(values, dict):
            raise click.BadParameter("must be a JSON object", param_hint="'--vitals'")
    with _session(home, user, Permission.DESK_TRIAGE) as (d, staff, _):
        result = d.triage(visit_id, user=staff, vitals=values, workstation=workstation)
        _done(d, staff, "triage", result, as_json=as_json, line="triaged")


@desk.command("call")
@HOME
@USER
@VISIT
@WORKSTATION
@JSON_OUT
def call(*, home: Path, user: str, visit_id: str, workstation: str | None, as_json: bool) -> None:
    """Call the resident into the consulting room.

    \b
    Example:
        rhip desk call --home ./clinic --user wangli --visit 0192… --workstation 诊室2
    """
    with _session(home, user, Permission.DESK_CONSULT) as (d, staff, _):
        result = d.call(visit_id, user=staff, workstation=workstation)
        _done(d, staff, "call", result, as_json=as_json, line="called")


@desk.command("consult")
@HOME
@USER
@VISIT
@click.option(
    "--file",
    "path",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help='JSON: {"encounter": {...}, "prescriptions": [...], "orders": [{"service": "cbc"}], "fees": [...]}.',
)
@WORKSTATION
@JSON_OUT
def consult(
    *, home: Path, user: str, visit_id: str, path: Path, workstation: str | None, as_json: bool
) -> None:
    """Record the consultation: encounter, prescriptions, examination orders and fees.

    A later consultation of the same visit adds prescriptions, orders or fees.

    \b
    Example:
        rhip desk consult --home ./clinic --user wangli --visit 0192… --file consult.json
    """
    body = _json_file(path, "the consultation")
    for name in ("prescriptions", "orders", "fees"):
        if body.get(name) is not None and not isinstance(body[name], list):
            raise click.BadParameter(f"{name} must be a list", param_hint="'--file'")
    with _session(home, user, Permission.DESK_CONSULT) as (d, staff, _):
        result = d.consult(
            visit_id,
            user=staff,
            encounter=body.get("encounter"),
            prescriptions=body.get("prescriptions"),
            orders=body.get("orders"),
            fees=body.get("fees"),
            workstation=workstation,
        )
        _done(
            d, staff, "consultation", result, as_json=as_json, line=f"{len(result.records)} record(s) written"
        )


# -- the cashier ----------------------------------------------------------------------------------------


@desk.command("bill")
@HOME
@USER
@VISIT
@JSON_OUT
def bill(*, home: Path, user: str, visit_id: str, as_json: bool) -> None:
    """What is due now, and the insurance fund's and the resident's shares.

    \b
    Example:
        rhip desk bill --home ./clinic --user wangfang --visit 0192…
    """
    with _session(home, user, Permission.DESK_CHARGE) as (d, staff, _):
        state = d.visit(visit_id)
        lines, s = d.quote(visit_id)
        _audit(d, staff, "read:bill", resident_id=state.resident_id, record_id=visit_id)
        if as_json:
            click.echo(
                json.dumps({"lines": lines, "total_fen": s.total_fen, **s.as_json()}, ensure_ascii=False)
            )
            return
        for ln in lines:
            click.echo(f"  {ln['name']} ×{ln['quantity']}  {fen_to_yuan(ln['amount_fen'])}")
        click.echo(
            f"total {fen_to_yuan(s.total_fen)}  insurance {fen_to_yuan(s.insurance_fen)}  "
            f"resident {fen_to_yuan(s.self_fen)} ({_zh('insurance_scheme', state.scheme)})"
        )


@desk.command("pay")
@HOME
@USER
@VISIT
@click.option(
    "--method",
    required=True,
    type=click.Choice([c.code for c in code_list("payment_method").codes]),
    help="How the resident pays their share.",
)
@click.option("--expect", help="The total quoted (yuan, e.g. 121.60): refuse if the bill changed since.")
@JSON_OUT
def pay(*, home: Path, user: str, visit_id: str, method: str, expect: str | None, as_json: bool) -> None:
    """Take payment of everything due and print the receipt number.

    \b
    Example:
        rhip desk pay --home ./clinic --user wangfang --visit 0192… --method wechat --expect 121.60
    """
    from schemas import yuan_to_fen

    try:
        expected = yuan_to_fen(expect) if expect is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--expect'") from None
    with _session(home, user, Permission.DESK_CHARGE) as (d, staff, _):
        result = d.pay(visit_id, user=staff, method=method, expected_total_fen=expected)
        p = result.extra["payment"]
        _done(
            d,
            staff,
            "payment",
            result,
            as_json=as_json,
            line=f"receipt {p['receipt_number']}: {fen_to_yuan(p['total_fen'])} = insurance "
            f"{fen_to_yuan(p['insurance_fen'])} + resident {fen_to_yuan(p['self_fen'])}",
        )


def _line(text: str) -> dict[str, Any]:
    parts = text.split(":")
    if len(parts) < 2 or len(parts) > 4 or not all(parts):
        raise click.BadParameter(f"{text!r} is not SOURCE:REF[:INDEX[:QUANTITY]]", param_hint="'--line'")
    out: dict[str, Any] = {"source": parts[0], "ref": parts[1]}
    try:
        if len(parts) > 2:
            out["index"] = int(parts[2])
        if len(parts) > 3:
            out["quantity"] = int(parts[3])
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: INDEX and QUANTITY are whole numbers", param_hint="'--line'"
        ) from None
    return out


@desk.command("refund")
@HOME
@USER
@click.option(
    "--payment", "payment_id", required=True, help="The payment's id (rhip desk show --json lists them)."
)
@click.option("--reason", required=True, help="Why the money is given back.")
@click.option(
    "--line",
    "lines",
    multiple=True,
    help="A line given back: SOURCE:REF[:INDEX[:QUANTITY]] (repeat; default every line).",
)
@JSON_OUT
def refund(
    *, home: Path, user: str, payment_id: str, reason: str, lines: tuple[str, ...], as_json: bool
) -> None:
    """Give back lines of a payment; the lines kept are settled again on a new receipt.

    \b
    Example:
        rhip desk refund --home ./clinic --user wangfang --payment 0192… \\
            --line service:0192…:0 --reason 未做检查
    """
    wanted = [_line(x) for x in lines] or None
    with _session(home, user, Permission.DESK_CHARGE) as (d, staff, _):
        result = d.refund(payment_id, user=staff, reason=reason, lines=wanted)
        back = result.extra
        _done(
            d,
            staff,
            "refund",
            result,
            as_json=as_json,
            line=f"refund {back['refund']['refund_number']}: "
            f"{fen_to_yuan(back['to_resident_fen'])} to the resident, "
            f"{fen_to_yuan(back['to_fund_fen'])} to the insurance fund",
        )


# -- pharmacy and examinations ---------------------------------------------------------------------------


def _item(text: str) -> dict[str, Any]:
    index, _, quantity = text.partition(":")
    try:
        return {"index": int(index), **({"quantity": int(quantity)} if quantity else {})}
    except ValueError:
        raise click.BadParameter(f"{text!r} is not INDEX[:QUANTITY]", param_hint="'--item'") from None


@desk.command("dispense")
@HOME
@USER
@VISIT
@click.option("--prescription", "prescription_id", required=True, help="The prescription's id.")
@click.option(
    "--item", "items", multiple=True, help="Hand over only item INDEX[:QUANTITY] (repeat; default all paid)."
)
@click.option("--note", help="Why less is handed over (out of stock …).")
@JSON_OUT
def dispense(
    *,
    home: Path,
    user: str,
    visit_id: str,
    prescription_id: str,
    items: tuple[str, ...],
    note: str | None,
    as_json: bool,
) -> None:
    """Hand over paid medicine of a prescription (each pack at most once).

    \b
    Example:
        rhip desk dispense --home ./clinic --user zhaoyao --visit 0192… --prescription 0192… --item 0:1
    """
    with _session(home, user, Permission.DESK_DISPENSE) as (d, staff, _):
        result = d.dispense(
            visit_id,
            user=staff,
            prescription_id=prescription_id,
            items=[_item(i) for i in items] or None,
            note=note,
        )
        _done(d, staff, "dispense", result, as_json=as_json, line="dispensed")


@desk.command("worklist")
@HOME
@USER
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="First day (default: a week ago).")
@click.option("--kind", type=click.Choice(["lab", "imaging", "ecg", "ultrasound"]), help="Only this kind.")
@JSON_OUT
def worklist(*, home: Path, user: str, since: dt.datetime | None, kind: str | None, as_json: bool) -> None:
    """Paid examinations and tests without a report, emergencies first.

    \b
    Example:
        rhip desk worklist --home ./clinic --user zhaoq --kind lab
    """
    with _session(home, user, Permission.DESK_EXAMS) as (d, staff, _):
        first = since.date() if since else d.now().date() - dt.timedelta(days=7)
        items = exam_worklist(d.store.db.reader(), d.store.node_id, first, kind=kind)
        _audit(
            d,
            staff,
            "read:worklist",
            detail={"residents": sorted({i["resident_id"] for i in items}), "route": "cli"},
        )
        if as_json:
            click.echo(json.dumps({"orders": items}, ensure_ascii=False))
            return
        for i in items:
            click.echo(
                f"{i['day']} {i['queue_number']:>3} {_zh('service', i['service'])} "
                f"[{i['status']}] {i['order_id']}"
            )
        if not items:
            click.echo("nothing to do")


@desk.command("collect")
@HOME
@USER
@click.option("--order", "order_id", required=True, help="The examination order's id (rhip desk worklist).")
@WORKSTATION
@JSON_OUT
def collect(*, home: Path, user: str, order_id: str, workstation: str | None, as_json: bool) -> None:
    """The specimen is taken, or the examination performed.

    \b
    Example:
        rhip desk collect --home ./clinic --user zhaoq --order 0192…
    """
    with _session(home, user, Permission.DESK_EXAMS) as (d, staff, _):
        result = d.collect(order_id, user=staff, workstation=workstation)
        _done(d, staff, "collect", result, as_json=as_json, line="collected")


@desk.command("result")
@HOME
@USER
@click.option("--order", "order_id", required=True, help="The examination order's id.")
@click.option(
    "--type",
    "type_",
    required=True,
    type=click.Choice(["lab_report", "imaging_report"]),
    help="The report's type.",
)
@click.option(
    "--file",
    "path",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The report's fields as JSON (specimen, panel and modality default from the order).",
)
@JSON_OUT
def result(*, home: Path, user: str, order_id: str, type_: str, path: Path, as_json: bool) -> None:
    """Record the order's result as a lab or imaging report.

    \b
    Example:
        rhip desk result --home ./clinic --user zhaoq --order 0192… --type lab_report --file cbc.json
    """
    body = _json_file(path, "the report")
    with _session(home, user, Permission.DESK_EXAMS) as (d, staff, _):
        out = d.report_result(order_id, user=staff, type_=type_, data=body)
        _done(d, staff, "result", out, as_json=as_json, line=f"report {out.records[0].id}")


# -- the end of a visit ---------------------------------------------------------------------------------


@desk.command("finish")
@HOME
@USER
@VISIT
@click.option(
    "--write-card", is_flag=True, help="Write the visit (and new emergency notes) to the card in the reader."
)
@READER
@JSON_OUT
def finish(
    *, home: Path, user: str, visit_id: str, write_card: bool, reader: str | None, as_json: bool
) -> None:
    """Close the visit; with --write-card also write it into the card's recent-visits ring.

    \b
    Example:
        rhip desk finish --home ./clinic --user wangfang --visit 0192… --write-card
    """
    with _session(home, user, Permission.DESK_FINISH) as (d, staff, h):
        if not write_card:
            _done(d, staff, "finish", d.finish(visit_id, user=staff), as_json=as_json, line="finished")
            return
        from cardreader.pcsc import PcscCard, wait_for_card

        trust = h.card_trust()
        with PcscCard(wait_for_card(reader=reader, timeout_s=30).reader) as connection:
            ch = Channel(connection.transmit)
            try:
                card = open_card(read_files(ch), trust=trust, today=d.now().date())
            except CardExpired as exc:
                card = exc.card
            done, writes = d.finish_with_card(visit_id, user=staff, card=card.content, clinic_name=h.name)
            writes.write(ch, card.content)
            number = card.content.issuer.card_number
        _audit(d, staff, "write:card", resident_id=done.state.resident_id, record_id=visit_id, reason="care")
        _done(d, staff, "finish", done, as_json=as_json, line=f"finished; written to card {number}")


@desk.command("cancel")
@HOME
@USER
@VISIT
@click.option("--reason", required=True, help="Why the visit ends here.")
@click.option(
    "--left", is_flag=True, help="The resident left before the visit was complete (not a cancellation)."
)
@JSON_OUT
def cancel(*, home: Path, user: str, visit_id: str, reason: str, left: bool, as_json: bool) -> None:
    """Cancel the registration (退号; refund first), or record that the resident left.

    \b
    Example:
        rhip desk cancel --home ./clinic --user wangfang --visit 0192… --reason 患者改日再来
    """
    with _session(home, user, Permission.DESK_CHECKIN) as (d, staff, _):
        result = d.cancel(visit_id, user=staff, reason=reason, left=left)
        what = "left" if left else "cancelled"
        _done(d, staff, "left" if left else "cancel", result, as_json=as_json, line=what)


@desk.command("demo")
@HOME
@click.option(
    "--visits",
    default=8,
    show_default=True,
    type=click.IntRange(1, 200),
    help="Visits to put in today's queue.",
)
@click.option("--seed", default=1, show_default=True, type=int, help="The same seed gives the same queue.")
def demo(*, home: Path, visits: int, seed: int) -> None:
    """Fill today's queue with synthetic visits at every step (SYNTHETIC DATA ONLY; a demo node).

    The node must hold synthetic residents (rhip synth) with some care history:
    the visits repeat earlier consultations of the same residents.

    \b
    Example:
        rhip synth --home ./clinic --residents 300 --years 2
        rhip desk demo --home ./clinic --visits 10
    """
    from node._synth import fill_queue

    h = open_home(home)
    db = h.database()
    try:
        steps = fill_queue(h.store(db), clinic=h.clinic, visits=visits, seed=seed)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.close()
    click.echo(
        f"{len(steps)} visit(s) in today's queue: "
        + ", ".join(f"{k} {v}" for k, v in sorted(_count(steps).items()))
    )


def _count(steps: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in steps:
        out[s] = out.get(s, 0) + 1
    return out
