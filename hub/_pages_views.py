"""What the console's pages show, as plain data from the store: nodes with their lag and alerts,
tokens, and review items with their evidence side by side. No HTML here, no requests."""

from __future__ import annotations

from typing import Any

from ._operator import review_queue
from ._store import HubStore, Reads, iso

__all__ = ["EVIDENCE_ORDER", "node_detail", "node_rows", "review_items", "stored_alerts", "token_rows"]

# The order a reviewer reads the evidence in: identifiers, then the person, then where they live.
EVIDENCE_ORDER = ("id_number", "other_id", "name", "birth_date", "sex", "household", "mother")
_STORED_ALERTS_SHOWN = 50


def node_rows(store: HubStore) -> list[dict[str, Any]]:
    """Every node: clinic, name, last seen (and whether silent too long), lag, pending, held, skew, forks."""
    reads = store.reads()
    now, silent_after = store.now_ms(), reads.silent_after_ms()
    rows = []
    for n in reads.nodes():
        last = reads.last_changeset(n.node_id, n.head.seq) if n.head.seq else None
        rows.append(
            {
                "node_id": n.node_id,
                "clinic": n.clinic,
                "name": n.name,
                "head": n.head.seq,
                "records": reads.record_count(n.node_id),
                "last_seen": iso(n.last_seen_ms),
                "silent_ms": now - n.heard_ms,
                "silent": n.silent(now, silent_after),
                "lag_ms": None if last is None else last.lag_ms,
                "last_received": None if last is None else iso(last.received_ms),
                "pending": n.waiting,  # what the node said it had not sent yet, at its last round
                "held": len(reads.held(n.node_id)),
                "quarantined": len(reads.quarantined(n.node_id)),
                "skew_ms": n.skew_ms,
                "revoked": n.revoked,
                "revoked_reason": n.revoked_reason,
            }
        )
    return rows


def stored_alerts(reads: Reads) -> list[dict[str, Any]]:
    """The newest stored alerts (forks, break-glass …), newest first; silent nodes are in ``node_rows``."""
    return reads.alerts()[::-1][:_STORED_ALERTS_SHOWN]


def node_detail(reads: Reads, node_id: str) -> dict[str, Any] | None:
    """A node's quarantined changesets and held records with their reasons; None if unknown."""
    node = reads.node(node_id)
    if node is None:
        return None
    return {
        "node_id": node.node_id,
        "clinic": node.clinic,
        "name": node.name,
        "enrolled": iso(node.enrolled_ms),
        "revoked": iso(node.revoked_ms),
        "revoked_reason": node.revoked_reason,
        "quarantined": [q.as_json() for q in reads.quarantined(node_id)],
        "held": [h.as_json() for h in reads.held(node_id)],
        "alerts": [a for a in reads.alerts() if a["node_id"] == node_id][::-1],
    }


def token_rows(store: HubStore) -> list[dict[str, Any]]:
    """Enrolment tokens, newest first: the first characters of their hash, clinic and state."""
    now = store.now_ms()
    return [
        {
            "hash": t.hash,
            "short": t.hash[:12],
            "clinic": t.clinic,
            "created": iso(t.created_ms),
            "expires": iso(t.expires_ms),
            "state": t.state(now),
            "used": iso(t.used_ms),
            "used_by": t.used_by,
            "revoked": iso(t.revoked_ms),
        }
        for t in store.reads().tokens()
    ]


def _clinic_of(reads: Reads, resident_id: str) -> dict[str, str | None]:
    node_id = reads.resident_home(resident_id)
    node = reads.node(node_id) if node_id else None
    return {"node_id": node_id, "clinic": node.clinic if node else None, "name": node.name if node else None}


def review_items(store: HubStore, *, limit: int = 50) -> list[dict[str, Any]]:
    """Open review items, each candidate's evidence as rows: field, this registration, the candidate,
    the agreement reached and its weight (``review_queue``, as the console API)."""
    reads = store.reads()
    out = []
    for item in review_queue(store, status="open", limit=limit):
        candidates = []
        for c in item["candidates"]:
            evidence = sorted(
                c["evidence"],
                key=lambda e: (
                    EVIDENCE_ORDER.index(e["field"]) if e["field"] in EVIDENCE_ORDER else len(EVIDENCE_ORDER)
                ),
            )
            candidates.append({**c, "evidence": evidence, "home": _clinic_of(reads, c["record_id"])})
        out.append({**item, "candidates": candidates, "home": _clinic_of(reads, item["resident_id"])})
    return out
