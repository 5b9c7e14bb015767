"""``rhip hub mpi …``: the hub operator's review queue and master-index actions (audited, reversible)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from hub import (
    HomeError,
    HubHome,
    HubStore,
    IdentityRefused,
    decide_review,
    estimate_weights,
    link_resident,
    merge_masters,
    review_queue,
    show_master,
    unlink_resident,
    unmerge,
)

__all__ = ["mpi"]

_T = TypeVar("_T")

HOME = click.option(
    "--home",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The hub's home directory (config, keys, database).",
)
BY = click.option("--by", required=True, help="Who decides (the operator's name); kept in the audit.")
REASON = click.option("--reason", required=True, help="Why; kept in the audit.")
AS_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


@contextmanager
def _hub(path: Path) -> Iterator[tuple[HubHome, HubStore]]:
    try:
        home = HubHome.open(path)
    except HomeError as exc:
        raise click.ClickException(str(exc)) from None
    store = home.store()
    try:
        yield home, store
    finally:
        store.db.close()


_OPTIONS = {
    "resident_id": "--resident",
    "master_id": "--master",
    "other_master_id": "--other",
    "audit_id": "--audit",
    "id": "--item",
    "by": "--by",
    "reason": "--reason",
}


def _do(action: Callable[[], _T]) -> _T:
    try:
        return action()
    except IdentityRefused as exc:
        where = f" ({_OPTIONS[exc.field]})" if exc.field in _OPTIONS else ""
        raise click.ClickException(f"{exc}{where}") from None


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


@click.group("mpi", context_settings={"help_option_names": ["-h", "--help"]})
def mpi() -> None:
    """Review and correct the master patient index: link, unlink, merge, unmerge, decide.

    Every change is audited (who, why, before and after), reversible, and
    sent to the clinics holding the residents concerned.

    \b
    Example:
        rhip hub mpi review --home ./hub
    """


def _registration_line(reg: dict[str, Any]) -> str:
    fields = reg.get("fields") or {}
    address = fields.get("address") or {}
    parts = [
        str(fields.get(k))
        for k in ("name", "sex", "birth_date", "id_number", "card_number", "phone")
        if fields.get(k)
    ]
    if isinstance(address, dict) and address.get("division_code"):
        parts.append(str(address["division_code"]))
    return f"{reg['resident_id']} at clinic {reg.get('clinic') or '?'}: {' · '.join(parts)}"


@mpi.command("review")
@HOME
@AS_JSON
@click.option(
    "--status",
    type=click.Choice(["open", "decided", "superseded", "all"]),
    default="open",
    show_default=True,
    help="Which items to list.",
)
def review(home: Path, as_json: bool, status: str) -> None:
    """List the review queue: each registration with its candidates, field by field side by side.

    \b
    Example:
        rhip hub mpi review --home ./hub --json
    """
    with _hub(home) as (_, store):
        items = review_queue(store, status=None if status == "all" else status)
    if as_json:
        _echo_json({"items": items})
        return
    if not items:
        click.echo(f"no {status} review items" if status != "all" else "no review items")
    for item in items:
        click.echo(f"item {item['id']} ({item['status']}, {item['created_at']}): {item['reason']}")
        click.echo(f"  registration {_registration_line(item['registration'])}")
        click.echo(f"  its master person for now: {item['master_id']}")
        for c in item["candidates"]:
            click.echo(
                f"  candidate master {c['master_id']} via {c['record_id']}: "
                f"p={c['probability']:.4f} ({c['outcome']}, {c['rule']})"
            )
            for e in c["evidence"]:
                bits = "" if e["bits"] is None else f"{e['bits']:+.1f}"
                click.echo(
                    f"    {e['field']:<10} {e['level'] or '-':<12} {bits:>6}  {e['ours'] or '—'}  |  "
                    f"{e['theirs'] or '—'}"
                )
        if item["outcome"]:
            click.echo(f"  decided {item['outcome']} by {item['decided_by']}: {item['why']}")


@mpi.command("decide")
@HOME
@click.option("--item", "item_id", required=True, type=int, help="The review item's id.")
@click.option("--same/--different", required=True, help="The same person, or different people.")
@click.option("--master", "master_id", help="The candidate master person meant (default: the first).")
@BY
@click.option("--reason", default=None, help="Why; kept in the audit. [default: the decision]")
def decide(
    home: Path, *, item_id: int, same: bool, master_id: str | None, by: str, reason: str | None
) -> None:
    """Decide a review item: --same links it (or merges its master person), --different keeps them
    apart and remembers the pair so it is never proposed again.

    \b
    Example:
        rhip hub mpi decide --home ./hub --item 12 --same --by wangli --reason "same card, same mother"
    """
    why = reason or ("the same person" if same else "different people")
    with _hub(home) as (h, store):
        item = _do(
            lambda: decide_review(
                store, h.key(), review_id=item_id, same=same, by=by, reason=why, master_id=master_id
            )
        )
    target = f" into master person {item['chosen_master']}" if same else ""
    click.echo(f"review item {item_id} decided: {item['outcome']}{target}")


@mpi.command("link")
@HOME
@click.option(
    "--resident", "resident_id", required=True, help="The registration (resident id at its clinic)."
)
@click.option("--master", "master_id", required=True, help="The master person to link it to.")
@BY
@REASON
def link(home: Path, resident_id: str, master_id: str, by: str, reason: str) -> None:
    """Link a registration to a master person (it leaves the one it was in).

    \b
    Example:
        rhip hub mpi link --home ./hub --resident 0197… --master 0198… --by wangli --reason "same ID card"
    """
    with _hub(home) as (h, store):
        entry = _do(
            lambda: link_resident(
                store, h.key(), resident_id=resident_id, master_id=master_id, by=by, reason=reason
            )
        )
    click.echo(f"linked {resident_id} to master person {master_id} (audit {entry['id']})")


@mpi.command("unlink")
@HOME
@click.option(
    "--resident", "resident_id", required=True, help="The registration (resident id at its clinic)."
)
@BY
@REASON
def unlink(home: Path, resident_id: str, by: str, reason: str) -> None:
    """Take a registration out of its master person; it becomes a master person of its own.

    \b
    Example:
        rhip hub mpi unlink --home ./hub --resident 0197… --by wangli --reason "a twin brother"
    """
    with _hub(home) as (h, store):
        entry = _do(lambda: unlink_resident(store, h.key(), resident_id=resident_id, by=by, reason=reason))
    click.echo(f"unlinked {resident_id}: now master person {entry['master_id']} (audit {entry['id']})")


@mpi.command("merge")
@HOME
@click.option("--master", "master_id", required=True, help="The master person that stays.")
@click.option("--other", "other_id", required=True, help="The master person merged into it.")
@BY
@REASON
def merge(home: Path, master_id: str, other_id: str, by: str, reason: str) -> None:
    """Merge two master persons: every registration of --other moves to --master.

    \b
    Example:
        rhip hub mpi merge --home ./hub --master 0198… --other 0199… --by wangli --reason "one person"
    """
    with _hub(home) as (h, store):
        entry = _do(
            lambda: merge_masters(
                store, h.key(), master_id=master_id, other_master_id=other_id, by=by, reason=reason
            )
        )
    click.echo(
        f"merged master person {other_id} into {master_id}: {len(entry['after'])} registration(s) "
        f"(audit {entry['id']}; undo with `rhip hub mpi unmerge --audit {entry['id']}`)"
    )


@mpi.command("unmerge")
@HOME
@click.option("--audit", "audit_id", type=int, help="The merge's audit entry.")
@click.option("--master", "master_id", help="Or: the master person that was merged away (its latest merge).")
@BY
@REASON
def unmerge_cmd(home: Path, audit_id: int | None, master_id: str | None, by: str, reason: str) -> None:
    """Undo a merge exactly as its audit entry recorded it.

    \b
    Example:
        rhip hub mpi unmerge --home ./hub --audit 7 --by wangli --reason "twins, not one person"
    """
    with _hub(home) as (h, store):
        entry = _do(
            lambda: unmerge(store, h.key(), audit_id=audit_id, master_id=master_id, by=by, reason=reason)
        )
    click.echo(
        f"undid merge {entry['undoes']}: {len(entry['after'])} registration(s) back in master person "
        f"{entry['master_id']} (audit {entry['id']})"
    )


@mpi.command("show")
@HOME
@click.option("--master", "master_id", required=True, help="The master person.")
@AS_JSON
def show(home: Path, master_id: str, as_json: bool) -> None:
    """Show a master person: its registrations, referrals, review items and history.

    \b
    Example:
        rhip hub mpi show --home ./hub --master 0198…
    """
    with _hub(home) as (_, store):
        view = _do(lambda: show_master(store, master_id))
    if as_json:
        _echo_json(view)
        return
    merged = f", merged into {view['merged_into']}" if view["merged_into"] else ""
    click.echo(f"master person {view['master_id']} (created {view['created_at']}{merged})")
    for reg in view["registrations"]:
        click.echo(f"  {_registration_line(reg)} [{reg['linked_by']}]")
    for ref in view["referrals"]:
        click.echo(f"  referred: {ref['resident_id']} to node {ref['node_id']}")
    for item in view["reviews"]:
        click.echo(f"  review item {item['id']} ({item['status']}): {item['reason']}")
    for e in view["history"]:
        undone = f", undone by {e['undone_by']}" if e["undone_by"] else ""
        click.echo(f"  {e['at']} #{e['id']} {e['action']} by {e['actor']}: {e['reason']}{undone}")


@mpi.command("weights")
@HOME
def weights(home: Path) -> None:
    """Re-estimate the index's match weights from the registrations it holds (run as it grows).

    \b
    Example:
        rhip hub mpi weights --home ./hub
    """
    with _hub(home) as (_, store):
        result = estimate_weights(store)
    click.echo(f"weights estimated from {result['registrations']} registration(s); used from the next match")
