"""Sync in the background: a round every ``sync_interval_s`` while the hub answers, backing off when not.

Rules:
1. The job never blocks the node's API and never stops it: the clinic works
   offline throughout, and a failed round only schedules the next attempt.
2. After a failed round the next attempt waits ``uniform(0, min(cap, base *
   2 ** (failures - 1)))`` seconds (exponential backoff, full jitter; base
   5 s, cap 15 min), kept as ``next_attempt_ms`` in sync_state; ticks before
   it do nothing. Ticks come every ``sync_interval_s``, so the effective wait
   is the next tick at or after the attempt time. A successful round (from
   any caller) resets the count and clears the wait.
3. Time and the random source are passed in.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]

from ._sync import RoundResult, SyncClient, _wall_ms
from ._sync_errors import SyncError

__all__ = ["DEFAULT_INTERVAL_S", "Backoff", "SyncScheduler", "sync_interval"]

log = logging.getLogger("rhip.node.sync")

DEFAULT_INTERVAL_S = 30.0


def sync_interval(home: Path) -> float:
    """``sync_interval_s`` from HOME/config.json, else the default (30 s)."""
    try:
        value = json.loads((home / "config.json").read_text(encoding="utf-8")).get("sync_interval_s")
    except (OSError, ValueError):
        return DEFAULT_INTERVAL_S
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return DEFAULT_INTERVAL_S


@dataclass(frozen=True)
class Backoff:
    base_s: float = 5.0
    cap_s: float = 15 * 60.0

    def delay_s(self, failures: int, rand: Callable[[], float]) -> float:
        """Seconds to wait after ``failures`` consecutive failed rounds (full jitter)."""
        if failures <= 0:
            return 0.0
        ceiling = min(self.cap_s, self.base_s * 2.0 ** min(failures - 1, 32))
        return float(rand()) * ceiling


class SyncScheduler:
    """The background job around one SyncClient."""

    def __init__(
        self,
        client: SyncClient,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        backoff: Backoff | None = None,
        rand: Callable[[], float] = random.random,
        wall_ms: Callable[[], int] = _wall_ms,
    ) -> None:
        self.client = client
        self.interval_s = interval_s
        self.backoff = backoff or Backoff()
        self._rand = rand
        self._wall_ms = wall_ms
        self._scheduler: BackgroundScheduler | None = None

    def tick(self) -> RoundResult | None:
        """One scheduled run: a round, unless backing off. Never raises."""
        state = self.client.state
        now = self._wall_ms()
        wait_until = state.next_attempt_ms()
        if wait_until is not None and now < wait_until:
            return None
        try:
            return self.client.round()
        except SyncError as exc:
            reason = exc.reason
        except Exception as exc:  # a bug must not kill the job; round() recorded it, log it here
            log.error("sync round crashed: %s", type(exc).__name__, exc_info=exc)
            reason = "internal"
        failures = state.failures()
        delay = self.backoff.delay_s(failures, self._rand)
        state.set_next_attempt(self._wall_ms() + int(delay * 1000))
        log.info("sync failed %d time(s) in a row (%s); next attempt in %.0f s", failures, reason, delay)
        return None

    def start(self) -> None:
        """Start the background job; the first round runs at once."""
        if self._scheduler is not None:
            return
        scheduler = BackgroundScheduler(daemon=True, timezone=dt.UTC)
        scheduler.add_job(
            self.tick,
            "interval",
            seconds=self.interval_s,
            id="rhip-sync",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,  # a late tick (busy or suspended machine) still runs, once
            next_run_time=dt.datetime.now(dt.UTC),
        )
        scheduler.start()
        self._scheduler = scheduler

    def shutdown(self, *, wait: bool = False) -> None:
        """Stop the job; by default without waiting for a round in flight (its transaction rolls back)."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=wait)
            self._scheduler = None
