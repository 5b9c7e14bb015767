"""What hub operators do with the master index and the privacy rules (``rhip hub mpi``, the console API).

Rules:
1. Each action is one write transaction: the change, its audit entry and the
   feed items it routes to the nodes (sealed with the hub's key) commit
   together or not at all.
2. Every action names who (``by``) and why (``reason``); a refusal names the
   field that is wrong (``IdentityRefused.field``).
3. Reads (the review queue, a master person) answer from a reader connection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ._feeds import FeedRouter
from ._identity import Identity, IdentityRefused
from ._privacy import BUILTIN_ICD, BUILTIN_TYPES, PrivacyRules, parse_sensitive
from ._store import HubStore, iso

__all__ = [
    "MAX_TEXT",
    "decide_review",
    "estimate_weights",
    "link_resident",
    "merge_masters",
    "privacy_rules",
    "review_queue",
    "set_sensitive",
    "show_master",
    "unlink_resident",
    "unmerge",
]

MAX_TEXT = 200
_T = TypeVar("_T")


def _text(value: str | None, field: str) -> str:
    text = (value or "").strip()
    if not text or len(text) > MAX_TEXT:
        raise IdentityRefused(f"{field} must be 1-{MAX_TEXT} characters", reason="malformed", field=field)
    return text


def _act(store: HubStore, key: Ed25519PrivateKey, action: Callable[[Identity], _T]) -> _T:
    with store.transaction() as tx:
        now = store.now_ms()
        router = FeedRouter(tx, now_ms=now)
        result = action(Identity(tx, router, now_ms=now, new_id=store.new_id))
        router.seal(key)
    return result


def review_queue(store: HubStore, *, status: str | None = "open", limit: int = 200) -> list[dict[str, Any]]:
    """Review items (open ones by default), each with its candidates and their evidence side by side."""
    reads = store.reads()
    out = []
    for item in reads.review_items(status=status, limit=limit):
        entry = item.as_json()
        entry["registration"] = _registration(reads, item.resident_id)
        out.append(entry)
    return out


def _registration(reads: Any, resident_id: str) -> dict[str, Any]:
    node_id = reads.resident_home(resident_id)
    node = reads.node(node_id) if node_id else None
    fields = {
        name: state.version.value
        for name, state in reads.field_states(resident_id).items()
        if name in ("name", "name_latin", "sex", "birth_date", "id_number", "card_number", "phone", "address")
    }
    return {
        "resident_id": resident_id,
        "node_id": node_id,
        "clinic": node.clinic if node else None,
        "fields": fields,
    }


def show_master(store: HubStore, master_id: str) -> dict[str, Any]:
    """A master person: its registrations (with their clinics), referrals, review items and audit history."""
    reads = store.reads()
    row = reads.master(master_id)
    if row is None:
        raise IdentityRefused(f"no master person {master_id}", reason="not-found", field="master_id")
    members = reads.master_members(master_id)
    residents = [r for r, _ in members]
    registrations = []
    for resident_id, _ in members:
        entry = _registration(reads, resident_id)
        entry["linked_by"] = reads.linked_by(resident_id)
        registrations.append(entry)
    return {
        "master_id": row.master_id,
        "created_at": iso(row.created_ms),
        "merged_into": row.merged_into,
        "surviving": reads.surviving_master(master_id),
        "registrations": registrations,
        "referrals": [{"resident_id": r, "node_id": n} for r, n in reads.referral_nodes(residents)],
        "reviews": [i.as_json() for i in reads.reviews_of(residents)],
        "history": [e.as_json() for e in reads.audit_of([master_id], residents)],
    }


def link_resident(
    store: HubStore, key: Ed25519PrivateKey, *, resident_id: str, master_id: str, by: str, reason: str
) -> dict[str, Any]:
    actor, why = _text(by, "by"), _text(reason, "reason")
    return _act(store, key, lambda i: i.link(resident_id, master_id, actor=actor, reason=why)).as_json()


def unlink_resident(
    store: HubStore, key: Ed25519PrivateKey, *, resident_id: str, by: str, reason: str
) -> dict[str, Any]:
    actor, why = _text(by, "by"), _text(reason, "reason")
    return _act(store, key, lambda i: i.unlink(resident_id, actor=actor, reason=why)).as_json()


def merge_masters(
    store: HubStore, key: Ed25519PrivateKey, *, master_id: str, other_master_id: str, by: str, reason: str
) -> dict[str, Any]:
    """Merge ``other_master_id`` into ``master_id``."""
    actor, why = _text(by, "by"), _text(reason, "reason")
    return _act(store, key, lambda i: i.merge(master_id, other_master_id, actor=actor, reason=why)).as_json()


def unmerge(
    store: HubStore,
    key: Ed25519PrivateKey,
    *,
    audit_id: int | None = None,
    master_id: str | None = None,
    by: str,
    reason: str,
) -> dict[str, Any]:
    """Undo a merge: the one audit entry ``audit_id``, or the latest merge of ``master_id`` into another."""
    actor, why = _text(by, "by"), _text(reason, "reason")
    if (audit_id is None) == (master_id is None):
        raise IdentityRefused(
            "give the merge's audit_id or the merged master_id (one of them)", field="audit_id"
        )
    if audit_id is None:
        assert master_id is not None
        entry = store.reads().last_merge_into(master_id)
        if entry is None:
            raise IdentityRefused(
                f"master person {master_id} was not merged into another (or the merge was undone)",
                reason="not-found",
                field="master_id",
            )
        audit_id = entry.id
    chosen = audit_id
    return _act(store, key, lambda i: i.unmerge(chosen, actor=actor, reason=why)).as_json()


def decide_review(
    store: HubStore,
    key: Ed25519PrivateKey,
    *,
    review_id: int,
    same: bool,
    by: str,
    reason: str,
    master_id: str | None = None,
) -> dict[str, Any]:
    actor, why = _text(by, "by"), _text(reason, "reason")
    item = _act(
        store, key, lambda i: i.decide(review_id, same=same, actor=actor, reason=why, master_id=master_id)
    )
    return item.as_json()


def estimate_weights(store: HubStore) -> dict[str, Any]:
    """Re-estimate the index's weights from the registrations it holds (EM); used from the next match."""
    with store.transaction() as tx:
        weights = tx.index.estimate_weights()
        size = len(tx.index)
    return {"registrations": size, "weights": weights.as_json()}


def privacy_rules(store: HubStore) -> dict[str, Any]:
    """The sensitive categories in force: built in, and added by operators (with who added them)."""
    added = store.reads().sensitive_rules()
    rules = PrivacyRules.with_operator((v, k) for v, k, _ in added)
    return {
        **rules.as_json(),
        "builtin": {"types": sorted(BUILTIN_TYPES), "icd_prefixes": list(BUILTIN_ICD)},
        "added": [{"value": v, "kind": k, "by": by} for v, k, by in added],
    }


def set_sensitive(
    store: HubStore, *, add: Iterable[str] = (), remove: Iterable[str] = (), by: str
) -> dict[str, Any]:
    """Add sensitive record types or ICD-10 prefixes/ranges, or remove ones operators added."""
    actor = _text(by, "by")
    try:
        adding = [pair for text in add for pair in parse_sensitive(text)]
        removing = [value for text in remove for value, _ in parse_sensitive(text)]
    except ValueError as exc:
        raise IdentityRefused(str(exc), reason="malformed", field="sensitive") from None
    builtin = [v for v in removing if v in BUILTIN_TYPES or v in BUILTIN_ICD]
    if builtin:
        raise IdentityRefused(
            f"{', '.join(builtin)} are built-in sensitive categories and cannot be removed",
            reason="malformed",
            field="sensitive",
        )
    with store.transaction() as tx:
        now = store.now_ms()
        for value, kind in adding:
            tx.add_sensitive(value, kind, by=actor, now_ms=now)
        for value in removing:
            tx.remove_sensitive(value)
    return privacy_rules(store)
