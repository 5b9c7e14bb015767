"""The master index at work in the hub: every registration linked to a master person, and the
operators' link, unlink, merge, unmerge and review decisions.

Rules:
1. Every resident registration is matched (``hub.mpi``) when it is first seen
   and whenever its demographics change what the index compares; an unchanged
   registration is never matched again. One match per change, inside the
   ingest transaction.
2. ``link``: the registration joins that master person. ``new``: it gets a
   master person of its own. ``review``: it gets one of its own *and* a review
   item with the decision's evidence, for a person to decide.
3. A registration already linked moves by itself only while it is alone in
   its master person and no person has placed it (``linked_by`` is ``auto``);
   otherwise a changed registration that matches elsewhere goes to review.
   Pairs a person decided are different are never proposed again.
4. Every change a person makes (and every move ingest makes) is one audit
   entry with actor, reason and each resident's master person before and
   after; an unmerge undoes a merge exactly from its entry. Nothing is deleted.
5. After each change, the nodes holding the residents concerned get the other
   side's records (backfill) and then a link item per resident whose
   co-members changed, naming the ones it lost (``unlinked``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from ._feeds import FeedRouter, link_item
from ._store import HubError, Writes
from ._store_mpi import AuditEntry, ReviewItem
from .mpi import Candidate, Decision, Outcome, Registration

__all__ = ["Identity", "IdentityRefused", "registration_of"]

log = logging.getLogger("rhip.hub.mpi")

Members = list[tuple[str, str]]  # (resident_id, home node_id)


class IdentityRefused(HubError):
    """An operator's action the master index cannot take: ``reason`` (not-found, conflict, malformed)
    and the ``field`` it is about."""

    def __init__(self, message: str, *, reason: str = "conflict", field: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.field = field


def registration_of(tx: Writes, resident_id: str, body: Mapping[str, Any]) -> Registration:
    """The registration the index compares: the resident's current demographics (and mother's name)."""
    mother = ""
    family = body.get("family")
    if isinstance(family, Mapping) and isinstance(family.get("mother_id"), str):
        state = tx.field_state(family["mother_id"], "name")
        if state is not None and isinstance(state.version.value, str):
            mother = state.version.value
    return Registration.from_resident(resident_id, body, mother_name=mother)


def _refine(decision: Decision, keep: Callable[[Candidate], bool]) -> Decision:
    """The decision again without the candidates ``keep`` refuses (``hub.mpi`` rule 5, recomputed)."""
    kept = tuple(c for c in decision.candidates if keep(c))
    if len(kept) == len(decision.candidates):
        return decision
    links = [c for c in kept if c.outcome is Outcome.LINK]
    if len(links) == 1:
        return Decision(Outcome.LINK, links[0].master_id, kept, f"linked by {links[0].rule}")
    if len(links) > 1:
        return Decision(Outcome.REVIEW, None, kept, f"{len(links)} master persons would link")
    if kept and kept[0].outcome is Outcome.REVIEW:
        return Decision(Outcome.REVIEW, None, kept, f"possible match ({kept[0].rule})")
    return Decision(Outcome.NEW, None, kept, "no master person matches")


class Identity:
    """The master index inside one hub write transaction (ingest's or an operator's)."""

    def __init__(
        self,
        tx: Writes,
        router: FeedRouter,
        *,
        now_ms: int,
        new_id: Callable[[], str],
        flush: Callable[[], None] = lambda: None,
    ) -> None:
        self.tx = tx
        self.router = router
        self.now_ms = now_ms
        self.new_id = new_id
        self.flush = flush  # ingest's pending records go to the table before a backfill reads it

    # -- ingest (rules 1-3) ------------------------------------------------------------------------

    def registration_changed(self, resident_id: str, body: Mapping[str, Any]) -> bool:
        """Match a registration whose compared demographics changed; True if any link changed."""
        tx, index = self.tx, self.tx.index
        reg = registration_of(tx, resident_id, body)
        if index.registration(resident_id) == reg:
            return False
        current = tx.resident_master(resident_id)
        home = tx.resident_home(resident_id) or ""
        decision = self._match(reg, current)
        if current is None:
            if decision.outcome is Outcome.LINK and decision.master_id is not None:
                master = decision.master_id
                index.add(master, reg)
                members = {master: tx.master_members(master)}
                tx.link_resident(resident_id, master)
                self._joined({resident_id: master}, {resident_id: None}, members)
                return True
            master = self.new_id()
            tx.add_master(master, self.now_ms)
            index.add(master, reg)
            tx.link_resident(resident_id, master)
            if decision.outcome is Outcome.REVIEW:
                tx.add_review(
                    resident_id, home, master, decision.as_json(), reason=decision.reason, now_ms=self.now_ms
                )
            return False
        index.add(current, reg)
        if decision.outcome is Outcome.NEW:
            return False
        target = decision.master_id if decision.outcome is Outcome.LINK else None
        alone = len(tx.master_members(current)) == 1
        tx.supersede_reviews(resident_id, self.now_ms)
        if target is not None and alone and tx.linked_by(resident_id) != "operator":
            before = self._move({resident_id: target}, linked_by="auto")
            tx.set_merged(current, target, self.now_ms)
            tx.add_audit(
                "auto-link",
                actor="ingest",
                reason=decision.reason,
                before=before,
                after={resident_id: target},
                now_ms=self.now_ms,
                resident_id=resident_id,
                master_id=target,
                other_master_id=current,
            )
            return True
        tx.add_review(
            resident_id, home, current, decision.as_json(), reason=decision.reason, now_ms=self.now_ms
        )
        return False

    def _match(self, reg: Registration, current: str | None) -> Decision:
        """The index's decision, without the resident's own master person and without masters a person
        decided are someone else (rule 3)."""
        decision = self.tx.index.match(reg, limit=8)
        if not decision.candidates:
            return decision
        own = [r for r, _ in self.tx.master_members(current)] if current else [reg.record_id]
        partners = self.tx.not_match_partners(own)
        refused: dict[str, bool] = {}

        def keep(c: Candidate) -> bool:
            if c.master_id == current:
                return False
            if not partners:
                return True
            if c.master_id not in refused:
                members = {r for r, _ in self.tx.master_members(c.master_id)}
                refused[c.master_id] = bool(members & partners)
            return not refused[c.master_id]

        return _refine(decision, keep)

    # -- operators' actions (rule 4) -------------------------------------------------------------

    def link(
        self,
        resident_id: str,
        master_id: str,
        *,
        actor: str,
        reason: str,
        review_id: int | None = None,
    ) -> AuditEntry:
        """Link a registration to a master person (it leaves the one it was in)."""
        current = self._resident(resident_id)
        target = self._master(master_id, "master_id")
        if current == target:
            raise IdentityRefused(f"resident {resident_id} is already linked to master person {target}")
        before = self._move({resident_id: target}, linked_by="operator")
        return self.tx.add_audit(
            "link",
            actor=actor,
            reason=reason,
            before=before,
            after={resident_id: target},
            now_ms=self.now_ms,
            resident_id=resident_id,
            master_id=target,
            other_master_id=current,
            review_id=review_id,
        )

    def unlink(self, resident_id: str, *, actor: str, reason: str) -> AuditEntry:
        """Take a registration out of its master person: it becomes a master person of its own."""
        current = self._resident(resident_id)
        if len(self.tx.master_members(current)) < 2:
            raise IdentityRefused(
                f"resident {resident_id} is the only registration of master person {current}: "
                "there is nothing to unlink it from",
                field="resident_id",
            )
        fresh = self.new_id()
        self.tx.add_master(fresh, self.now_ms)
        before = self._move({resident_id: fresh}, linked_by="operator")
        return self.tx.add_audit(
            "unlink",
            actor=actor,
            reason=reason,
            before=before,
            after={resident_id: fresh},
            now_ms=self.now_ms,
            resident_id=resident_id,
            master_id=fresh,
            other_master_id=current,
        )

    def merge(
        self, survivor: str, absorbed: str, *, actor: str, reason: str, review_id: int | None = None
    ) -> AuditEntry:
        """Move every registration of ``absorbed`` into ``survivor``; ``absorbed`` keeps its row,
        pointing at ``survivor``."""
        keep = self._master(survivor, "master_id")
        gone = self._master(absorbed, "other_master_id")
        if keep == gone:
            raise IdentityRefused("a master person cannot be merged into itself", field="other_master_id")
        members = self.tx.master_members(gone)
        if not members:
            raise IdentityRefused(
                f"master person {gone} has no registrations to merge", field="other_master_id"
            )
        moves = {r: keep for r, _ in members}
        before = self._move(moves, linked_by="operator")
        self.tx.set_merged(gone, keep, self.now_ms)
        return self.tx.add_audit(
            "merge",
            actor=actor,
            reason=reason,
            before=before,
            after=dict(moves),
            now_ms=self.now_ms,
            master_id=keep,
            other_master_id=gone,
            review_id=review_id,
        )

    def unmerge(self, audit_id: int, *, actor: str, reason: str) -> AuditEntry:
        """Undo a merge (or a link ingest made by itself) exactly as its audit entry recorded it."""
        entry = self.tx.audit_entry(audit_id)
        if entry is None:
            raise IdentityRefused(f"no audit entry {audit_id}", reason="not-found", field="audit_id")
        if entry.action not in ("merge", "auto-link"):
            raise IdentityRefused(
                f"audit entry {audit_id} is a {entry.action}, not a merge; undo a link with unlink",
                field="audit_id",
            )
        if entry.undone_by is not None:
            raise IdentityRefused(
                f"audit entry {audit_id} was already undone by entry {entry.undone_by}", field="audit_id"
            )
        moved = {r: self.tx.resident_master(r) for r in entry.after}
        changed = sorted(r for r, m in moved.items() if m != entry.after[r])
        if changed:
            raise IdentityRefused(
                f"residents {', '.join(changed)} moved since merge {audit_id}; "
                "link or unlink them one by one instead",
                field="audit_id",
            )
        moves = {r: m for r, m in entry.before.items() if m is not None}
        before = self._move(moves, linked_by="operator")
        if entry.other_master_id is not None:
            self.tx.set_merged(entry.other_master_id, None, None)
        return self.tx.add_audit(
            "unmerge",
            actor=actor,
            reason=reason,
            before=before,
            after=dict(moves),
            now_ms=self.now_ms,
            resident_id=entry.resident_id,
            master_id=entry.other_master_id,
            other_master_id=entry.master_id,
            undoes=entry.id,
        )

    def decide(
        self, review_id: int, *, same: bool, actor: str, reason: str, master_id: str | None = None
    ) -> ReviewItem:
        """Decide a review item: the same person (link, or merge its master person) or a different one
        (kept apart, the pair remembered so it is never proposed again)."""
        item = self.tx.review_item(review_id)
        if item is None:
            raise IdentityRefused(f"no review item {review_id}", reason="not-found", field="id")
        if item.status != "open":
            raise IdentityRefused(f"review item {review_id} is {item.status}, not open", field="id")
        candidates = item.candidate_masters()
        if master_id is not None and master_id not in candidates:
            raise IdentityRefused(
                f"master person {master_id} is not a candidate of review item {review_id} "
                f"(candidates: {', '.join(candidates) or 'none'})",
                reason="malformed",
                field="master_id",
            )
        chosen: str | None = None
        if same:
            if not candidates:
                raise IdentityRefused(f"review item {review_id} has no candidate to link to", field="id")
            chosen = self.tx.surviving_master(master_id or candidates[0])
            current = self._resident(item.resident_id)
            if chosen != current:
                if len(self.tx.master_members(current)) == 1:
                    self.link(item.resident_id, chosen, actor=actor, reason=reason, review_id=review_id)
                else:
                    self.merge(chosen, current, actor=actor, reason=reason, review_id=review_id)
        else:
            for c in item.decision.get("candidates", []):
                if master_id is None or c["master_id"] == master_id:
                    partner = str(c["record_id"])
                    self.tx.add_not_match(
                        item.resident_id, partner, actor=actor, review_id=review_id, now_ms=self.now_ms
                    )
        self.tx.decide_review(
            review_id,
            outcome="same" if same else "different",
            chosen_master=chosen if same else master_id,
            by=actor,
            why=reason,
            now_ms=self.now_ms,
        )
        decided = self.tx.review_item(review_id)
        assert decided is not None
        return decided

    # -- moving registrations, and telling the nodes (rule 5) -------------------------------------

    def _resident(self, resident_id: str) -> str:
        master = self.tx.resident_master(resident_id)
        if master is None:
            raise IdentityRefused(
                f"no registration {resident_id} at this hub", reason="not-found", field="resident_id"
            )
        return master

    def _master(self, master_id: str, field: str) -> str:
        row = self.tx.master(master_id)
        if row is None:
            raise IdentityRefused(f"no master person {master_id}", reason="not-found", field=field)
        if row.merged_into is not None:
            raise IdentityRefused(
                f"master person {master_id} was merged into "
                f"{self.tx.surviving_master(master_id)}; use that one",
                field=field,
            )
        return master_id

    def _move(self, moves: Mapping[str, str], *, linked_by: str) -> dict[str, str | None]:
        """Put each resident under its new master person; returns their master persons before."""
        olds = {r: self.tx.resident_master(r) for r in moves}
        affected = {m for m in olds.values() if m is not None} | set(moves.values())
        before = {m: self.tx.master_members(m) for m in sorted(affected)}
        for resident_id, master in moves.items():
            self.tx.index.relink(resident_id, master)
            self.tx.link_resident(resident_id, master, linked_by=linked_by)
        self._joined(moves, olds, before)
        log.info("master index: %d registration(s) moved, %d master persons", len(moves), len(affected))
        return dict(olds)

    def _joined(
        self, moves: Mapping[str, str], olds: Mapping[str, str | None], before: dict[str, Members]
    ) -> None:
        """Backfill both ways for every master person that gained residents, then send link items."""
        self.flush()
        self.router.links_changed()
        for master in sorted(set(moves.values())):
            groups: dict[str | None, list[str]] = {}
            for resident_id, target in moves.items():
                if target == master and olds.get(resident_id) != master:
                    groups.setdefault(olds.get(resident_id), []).append(resident_id)
            stayed = [r for r, _ in before.get(master, []) if r not in moves]
            sides = [stayed, *groups.values()]
            for i, one in enumerate(sides):
                for other in sides[i + 1 :]:
                    if one and other:
                        self.router.join(one, other)
        self._send_links(before)

    def _send_links(self, before: dict[str, Members]) -> None:
        prior: dict[str, set[tuple[str, str]]] = {}
        for members in before.values():
            for resident_id, node in members:
                prior[resident_id] = {m for m in members if m != (resident_id, node)}
        for master in sorted(before):
            members = self.tx.master_members(master)
            homes = {n for _, n in members}
            targets = [(r, n) for r, n in members]
            targets += [(r, n) for r, n in self.tx.referral_nodes([r for r, _ in members]) if n not in homes]
            for resident_id, node in targets:
                others = [m for m in members if m[0] != resident_id]
                had = prior.get(resident_id, set())
                if set(others) == had:
                    continue
                self.router.link(node, link_item(resident_id, master, others, had - set(others)))
