"""``rhip referral …`` and ``rhip consult …``: two-way referral and remote consultation at a node.

Each command acts on the node's database directly (no server, no hub needed)
as the staff account ``--user``, whose role must allow it as through the API;
every list is audited. What is written syncs with the hub at the next round.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from node import (
    CONSULTATION_STATUSES,
    DEFAULT_PURPOSE,
    DIRECTIONS,
    REFERRAL_STATUSES,
    Clinic,
    Permission,
    ReferralConflict,
    Staff,
    answer_consultation,
    close_referral,
    consultations,
    readable_types,
    record_access,
    refer_back,
    refer_out,
    referrals,
    request_consultation,
    respond,
)
from schemas import RecordEnvelope

from ._node import HOME, acting_as

__all__ = ["consult", "referral"]

USER = click.option("--user", required=True, help="The staff account doing this (a doctor to act).")
JSON_OUT = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
DIRECTION = click.option(
    "--direction", type=click.Choice(DIRECTIONS), help="out: sent from this clinic; in: sent to it."
)
REFERRAL = click.option("--referral", "referral_id", required=True, help="The referral out's id (see list).")
CONSULTATION = click.option(
    "--consultation", "consultation_id", required=True, help="The consultation's id (see list)."
)


@contextmanager
def _session(home: Path, user: str, permission: Permission) -> Iterator[tuple[Clinic, Staff]]:
    """This clinic as ``user``, refused unless the role holds ``permission``; errors become messages."""
    with acting_as(home, user, permission, ReferralConflict) as (h, db, staff):
        yield Clinic(h.store(db), h.clinic, staff.name, staff.display_name or staff.name), staff


def _audit(clinic: Clinic, staff: Staff, action: str, env: RecordEnvelope | None, **detail: Any) -> None:
    record_access(
        clinic.store.db,
        user=staff.name,
        role=staff.role.value,
        action=action,
        reason=DEFAULT_PURPOSE[staff.role],
        resident_id=env.resident_id if env else None,
        record_id=env.id if env else None,
        detail={**detail, "route": "cli"},
    )


def _written(
    clinic: Clinic, staff: Staff, action: str, env: RecordEnvelope, *, line: str, as_json: bool
) -> None:
    _audit(clinic, staff, action, env)
    click.echo(json.dumps(env.as_dict(), ensure_ascii=False) if as_json else f"{line}: {env.id}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def referral() -> None:
    """Two-way referral: refer up, accept or decline, refer back with results, close.

    \b
    Example:
        rhip referral send --home ./clinic --user drli --resident 0192… --to 511321102 --reason "血压控制不佳"
        rhip referral list --home ./clinic --user drli --direction in --status sent
    """


@referral.command("list")
@HOME
@USER
@DIRECTION
@click.option("--status", type=click.Choice(REFERRAL_STATUSES), help="Only referrals with this status.")
@JSON_OUT
def list_referrals(
    *, home: Path, user: str, direction: str | None, status: str | None, as_json: bool
) -> None:
    """List referrals out of or into this clinic with their status (audited).

    \b
    Example:
        rhip referral list --home ./clinic --user drli --direction out --status back
    """
    with _session(home, user, Permission.READ_REFERRALS) as (clinic, staff):
        items = referrals(
            clinic.store, clinic.code, direction=direction, status=status, readable=readable_types(staff.role)
        )
        _audit(clinic, staff, "read:referrals", None, records=[i["id"] for i in items])
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False))
        return
    for i in items:
        other = i["to_clinic"] if i["direction"] == "out" else i["from_clinic"]
        click.echo(
            f"{i['id']}  {i['direction']:<3} {i['status']:<8} {other:<12} "
            f"{i['resident']['name']}  {i['reason']}"
        )


@referral.command("send")
@HOME
@USER
@click.option("--resident", "resident_id", required=True, help="The resident's id at this clinic.")
@click.option("--to", "to_clinic", required=True, help="The receiving clinic's code.")
@click.option("--reason", required=True, help="Why the resident is referred.")
@click.option("--diagnosis", "diagnoses", multiple=True, help="A preliminary ICD-10 diagnosis (repeatable).")
@click.option("--urgency", default="routine", show_default=True, help="routine, urgent or emergency.")
@JSON_OUT
def send(
    *,
    home: Path,
    user: str,
    resident_id: str,
    to_clinic: str,
    reason: str,
    diagnoses: tuple[str, ...],
    urgency: str,
    as_json: bool,
) -> None:
    """Refer a resident registered here to another clinic (syncs at the next round).

    \b
    Example:
        rhip referral send --home ./clinic --user drli --resident 0192… --to 511321102 \\
            --reason "血压控制不佳" --diagnosis I10
    """
    data = {
        "to_clinic": to_clinic,
        "reason": reason,
        "preliminary_diagnoses": list(diagnoses),
        "urgency": urgency,
    }
    with _session(home, user, Permission.REFER) as (clinic, staff):
        env = refer_out(clinic, resident_id, data)
        _written(clinic, staff, "referral:out", env, line="referred", as_json=as_json)


@referral.command("accept")
@HOME
@USER
@REFERRAL
@JSON_OUT
def accept(*, home: Path, user: str, referral_id: str, as_json: bool) -> None:
    """Accept a referral sent to this clinic.

    \b
    Example:
        rhip referral accept --home ./hospital --user drchen --referral 0192…
    """
    with _session(home, user, Permission.REFER) as (clinic, staff):
        env = respond(clinic, referral_id, accept=True)
        _written(clinic, staff, "referral:accept", env, line="accepted", as_json=as_json)


@referral.command("decline")
@HOME
@USER
@REFERRAL
@click.option("--reason", required=True, help="Why the referral is declined (the sender sees it).")
@JSON_OUT
def decline(*, home: Path, user: str, referral_id: str, reason: str, as_json: bool) -> None:
    """Decline a referral sent to this clinic, saying why.

    \b
    Example:
        rhip referral decline --home ./hospital --user drchen --referral 0192… --reason "床位已满"
    """
    with _session(home, user, Permission.REFER) as (clinic, staff):
        env = respond(clinic, referral_id, accept=False, reason=reason)
        _written(clinic, staff, "referral:decline", env, line="declined", as_json=as_json)


@referral.command("back")
@HOME
@USER
@REFERRAL
@click.option("--results", required=True, help="What was found and done (诊治结果).")
@click.option("--discharge-summary", "summary_id", help="The id of the discharge summary written here.")
@JSON_OUT
def back(
    *, home: Path, user: str, referral_id: str, results: str, summary_id: str | None, as_json: bool
) -> None:
    """Refer an accepted referral back to the referring clinic with results.

    \b
    Example:
        rhip referral back --home ./hospital --user drchen --referral 0192… \\
            --results "血压已控制" --discharge-summary 0193…
    """
    with _session(home, user, Permission.REFER) as (clinic, staff):
        env = refer_back(clinic, referral_id, {"results": results, "discharge_summary_id": summary_id})
        _written(clinic, staff, "referral:back", env, line="referred back", as_json=as_json)


@referral.command("close")
@HOME
@USER
@REFERRAL
@JSON_OUT
def close(*, home: Path, user: str, referral_id: str, as_json: bool) -> None:
    """Close a referral this clinic sent, once it is back.

    \b
    Example:
        rhip referral close --home ./clinic --user drli --referral 0192…
    """
    with _session(home, user, Permission.REFER) as (clinic, staff):
        env = close_referral(clinic, referral_id)
        _written(clinic, staff, "referral:close", env, line="closed", as_json=as_json)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def consult() -> None:
    """Remote consultation: ask another clinic's doctor about a resident, answer what is asked here.

    \b
    Example:
        rhip consult ask --home ./clinic --user drli --resident 0192… --to 511321102 --question "请协助诊断"
        rhip consult list --home ./hospital --user drchen --direction in --status requested
    """


@consult.command("list")
@HOME
@USER
@DIRECTION
@click.option(
    "--status", type=click.Choice(CONSULTATION_STATUSES), help="Only consultations with this status."
)
@JSON_OUT
def list_consultations(
    *, home: Path, user: str, direction: str | None, status: str | None, as_json: bool
) -> None:
    """List consultations asked by or of this clinic (audited).

    \b
    Example:
        rhip consult list --home ./hospital --user drchen --direction in --status requested
    """
    with _session(home, user, Permission.READ_REFERRALS) as (clinic, staff):
        items = consultations(clinic.store, clinic.code, direction=direction, status=status)
        _audit(clinic, staff, "read:consultations", None, records=[i["id"] for i in items])
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False))
        return
    for i in items:
        click.echo(
            f"{i['id']}  {i['direction']:<3} {i['status']:<9} {i['resident']['name']}  {i['question']}"
        )


@consult.command("ask")
@HOME
@USER
@click.option("--resident", "resident_id", required=True, help="The resident's id at this clinic.")
@click.option("--to", "consulting_clinic", required=True, help="The consulting clinic's code.")
@click.option("--question", required=True, help="What the other clinic's doctor is asked.")
@click.option("--diagnosis", "diagnoses", multiple=True, help="An ICD-10 diagnosis so far (repeatable).")
@JSON_OUT
def ask(
    *,
    home: Path,
    user: str,
    resident_id: str,
    consulting_clinic: str,
    question: str,
    diagnoses: tuple[str, ...],
    as_json: bool,
) -> None:
    """Ask another clinic for a consultation (syncs at the next round).

    \b
    Example:
        rhip consult ask --home ./clinic --user drli --resident 0192… --to 511321102 \\
            --question "胸片示右下肺阴影"
    """
    data = {"consulting_clinic": consulting_clinic, "question": question, "diagnoses": list(diagnoses)}
    with _session(home, user, Permission.REFER) as (clinic, staff):
        env = request_consultation(clinic, resident_id, data)
        _written(clinic, staff, "consultation:request", env, line="asked", as_json=as_json)


@consult.command("answer")
@HOME
@USER
@CONSULTATION
@click.option("--answer", "text", required=True, help="The answer (the asking clinic sees it).")
@JSON_OUT
def answer(*, home: Path, user: str, consultation_id: str, text: str, as_json: bool) -> None:
    """Answer a consultation asked of this clinic.

    \b
    Example:
        rhip consult answer --home ./hospital --user drchen --consultation 0192… --answer "考虑社区获得性肺炎"
    """
    with _session(home, user, Permission.REFER) as (clinic, staff):
        env = answer_consultation(clinic, consultation_id, text)
        _written(clinic, staff, "consultation:answer", env, line="answered", as_json=as_json)
