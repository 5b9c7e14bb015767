"""The master index's linker: registrations queued by ingest are matched here, after their upload.

Rules:
1. Ingest never matches: it queues a registration whose demographics changed
   (``mpi_queue``, in the transaction that stores it) and answers the clinic.
   Matching a registration costs about a millisecond against a large index; a
   clinic's upload over a 2G link must not wait for it, nor every other
   clinic's upload behind the write lock.
2. ``link_queued`` takes the registrations waiting longest, a few at a time
   (the write lock is held briefly), and matches each on its current
   demographics (``_identity``: link, review or new, with the backfill and the
   link items to the nodes). A registration queued twice is matched once.
3. The hub's server runs it in the background whenever the queue is not empty
   (``create_app(link="background")``); in-process use and tests drain it
   after each push (``link="after-push"``). ``rhip hub status`` shows the queue.
4. The master index's reading caches are trimmed after each batch, so the
   server's memory does not grow with the registrations it has seen.
"""

from __future__ import annotations

import logging

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ._feeds import FeedRouter
from ._identity import Identity
from ._store import HubStore
from .mpi import trim_caches

__all__ = ["BATCH", "link_all", "link_queued"]

log = logging.getLogger("rhip.hub.linker")

BATCH = 32  # registrations matched per write transaction (tens of milliseconds of lock)
_CACHED_REGISTRATIONS = 4_096  # read registrations the index may remember between batches (~15 MB)


def link_queued(store: HubStore, key: Ed25519PrivateKey, *, limit: int = BATCH) -> int:
    """Match up to ``limit`` queued registrations in one transaction; how many were matched."""
    with store.transaction() as tx:
        queued = tx.queued_registrations(limit)
        if not queued:
            return 0
        now = store.now_ms()
        router = FeedRouter(tx, now_ms=now)
        identity = Identity(tx, router, now_ms=now, new_id=store.new_id)
        changed = 0
        for resident_id in queued:
            body = {field: state.version.value for field, state in tx.field_states(resident_id).items()}
            if identity.registration_changed(resident_id, body):
                router.links_changed()
                changed += 1
        tx.dequeue_registrations(queued)
        routed = router.seal(key)
    trim_caches(_CACHED_REGISTRATIONS)
    if changed:
        log.info(
            "master index: %d registrations matched, %d links changed, %d feed changesets",
            len(queued),
            changed,
            routed,
        )
    return len(queued)


def link_all(store: HubStore, key: Ed25519PrivateKey) -> int:
    """Drain the queue; how many registrations were matched."""
    total = 0
    while n := link_queued(store, key):
        total += n
    return total
