"""The persistent master index on SQLite: registrations, their blocking keys, value counts, weights.

Rules:

1. :func:`create_tables` creates the ``mpi_*`` tables on any
   ``sqlite3.Connection`` (the hub's database, or a file of its own), and is
   safe to run again. The index never commits: writes happen inside the
   caller's transaction (the hub's writer holds ``BEGIN IMMEDIATE``).
2. A registration is stored as it was given (its text, for reviewers),
   with its master id, and one row per blocking key (a 64-bit hash,
   ``mpi_keys``). Matching reads only the rows its keys name: a handful of
   index look-ups and at most :data:`MAX_CANDIDATES` registrations, never
   the population, so one match costs the same against ten thousand or ten
   million registrations, and memory stays bounded.
3. Value counts (``mpi_values``) and per-kind sums of squares (``mpi_meta``)
   are kept up to date on every add and remove, for frequency-aware weights.
4. Weights live in ``mpi_meta`` (``weights``, JSON). Until
   :meth:`MasterIndex.estimate_weights` or :meth:`MasterIndex.set_weights`
   stores some, the defaults apply. Re-estimate as the index grows.
5. :meth:`MasterIndex.match` decides at master-person level: every
   candidate registration is judged (:func:`._decide.judge`), the best per
   master person kept; exactly one master person to link → ``link``; two or
   more (they may be one person the index holds twice), or any review →
   ``review``; else ``new``. The registration's own ``record_id`` is never
   its own candidate.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import astuple, fields

from ._blocking import PASSES, blocking_keys, key_hash
from ._compare import compare, frequency_keys
from ._decide import Candidate, Decision, Outcome, evidence, judge, label
from ._normal import Profile, Registration, profile
from ._weights import (
    DEFAULT_WEIGHTS,
    Frequencies,
    Weights,
    estimate,
    estimate_u,
    prior_log_odds,
    probability,
    score,
)

__all__ = ["MAX_CANDIDATES", "MasterIndex", "create_tables"]

MAX_CANDIDATES = 400
"""Most registrations one match compares (rule 2); passes are read in order until it is reached."""

_TEXT = tuple(f.name for f in fields(Registration))[1:]  # every column but record_id
_TABLES = (
    f"""CREATE TABLE IF NOT EXISTS mpi_registrations (
        reg INTEGER PRIMARY KEY,
        record_id TEXT NOT NULL UNIQUE,
        master_id TEXT NOT NULL,
        {", ".join(f"{c} TEXT NOT NULL DEFAULT ''" for c in _TEXT)}
    )""",
    "CREATE INDEX IF NOT EXISTS mpi_registrations_master ON mpi_registrations (master_id)",
    """CREATE TABLE IF NOT EXISTS mpi_keys (
        key INTEGER NOT NULL,
        reg INTEGER NOT NULL,
        PRIMARY KEY (key, reg)
    ) WITHOUT ROWID""",
    "CREATE TABLE IF NOT EXISTS mpi_values (key INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS mpi_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
_SELECT = f"SELECT reg, record_id, master_id, {', '.join(_TEXT)} FROM mpi_registrations"
_BLOCK = "SELECT reg FROM mpi_keys WHERE key = ? LIMIT ?"
_UPSERT_VALUE = "INSERT INTO mpi_values (key, n) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET n = excluded.n"
_UPSERT_META = (
    "INSERT INTO mpi_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


def create_tables(conn: sqlite3.Connection) -> None:
    """Create the index's tables if they are missing (rule 1)."""
    for sql in _TABLES:
        conn.execute(sql)


class MasterIndex:
    """Master persons and their registrations, matched by blocking and Fellegi–Sunter weights.

    The caller owns the connection and its transactions (rule 1) and mints
    master ids. Typical use by the hub::

        create_tables(conn)
        index = MasterIndex(conn)
        decision = index.match(registration)
        if decision.outcome is Outcome.LINK:
            index.add(decision.master_id, registration)
        elif decision.outcome is Outcome.NEW:
            index.add(new_master_id(), registration)
        else:  # REVIEW: queue decision.candidates; index.add(chosen, registration) when decided
            ...
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._weights: Weights | None = None
        self._meta_cache: dict[str, float] | None = None

    # -- writing --------------------------------------------------------------------------

    def add(self, master_id: str, registration: Registration) -> None:
        """Index a registration under a master person (replacing an earlier one with its record_id)."""
        self.add_many([(master_id, registration)])

    def add_many(self, items: Iterable[tuple[str, Registration]]) -> int:
        """Index many registrations; returns how many. Faster than :meth:`add` one by one."""
        counts: Counter[str] = Counter()
        key_rows: list[tuple[int, int]] = []
        n = 0
        for master_id, reg in items:
            self.remove(reg.record_id)
            cur = self.conn.execute(
                f"INSERT INTO mpi_registrations (record_id, master_id, {', '.join(_TEXT)}) "
                f"VALUES ({', '.join('?' * (len(_TEXT) + 2))})",
                (reg.record_id, master_id, *astuple(reg)[1:]),
            )
            reg_id = cur.lastrowid
            assert reg_id is not None
            p = profile(reg)
            key_rows.extend((key_hash(k), reg_id) for k in {k for _, k in blocking_keys(p)})
            counts.update(frequency_keys(p))
            n += 1
        self.conn.executemany("INSERT OR IGNORE INTO mpi_keys (key, reg) VALUES (?, ?)", key_rows)
        self._count(counts, n, +1)
        return n

    def remove(self, record_id: str) -> bool:
        """Take a registration out of the index (an unmerge re-adds it elsewhere). False if absent."""
        row = self.conn.execute(f"{_SELECT} WHERE record_id = ?", (record_id,)).fetchone()
        if row is None:
            return False
        p = profile(_registration(row))
        self.conn.executemany(
            "DELETE FROM mpi_keys WHERE key = ? AND reg = ?",
            [(key_hash(k), row[0]) for k in {k for _, k in blocking_keys(p)}],
        )
        self.conn.execute("DELETE FROM mpi_registrations WHERE reg = ?", (row[0],))
        self._count(Counter(frequency_keys(p)), 1, -1)
        return True

    def relink(self, record_id: str, master_id: str) -> bool:
        """Move a registration to another master person (merge, unmerge, a reviewer's decision)."""
        cur = self.conn.execute(
            "UPDATE mpi_registrations SET master_id = ? WHERE record_id = ?", (master_id, record_id)
        )
        return cur.rowcount > 0

    def _count(self, counts: Counter[str], n: int, sign: int) -> None:
        meta = self._meta()
        for key, c in counts.items():
            h = key_hash(key)
            row = self.conn.execute("SELECT n FROM mpi_values WHERE key = ?", (h,)).fetchone()
            old = row[0] if row else 0
            new = max(old + sign * c, 0)
            if new:
                self.conn.execute(_UPSERT_VALUE, (h, new))
            elif row:
                self.conn.execute("DELETE FROM mpi_values WHERE key = ?", (h,))
            kind = "sq:" + key[:2]
            meta[kind] = meta.get(kind, 0.0) + new * new - old * old
        meta["n"] = max(meta.get("n", 0.0) + sign * n, 0.0)
        self.conn.executemany(_UPSERT_META, [(k, repr(v)) for k, v in meta.items()])

    def _meta(self) -> dict[str, float]:
        rows = self.conn.execute("SELECT key, value FROM mpi_meta WHERE key = 'n' OR key LIKE 'sq:%'")
        return {k: float(v) for k, v in rows}

    # -- weights ------------------------------------------------------------------------------

    @property
    def weights(self) -> Weights:
        """The weights in use: those stored (rule 4), else the defaults."""
        if self._weights is None:
            row = self.conn.execute("SELECT value FROM mpi_meta WHERE key = 'weights'").fetchone()
            self._weights = Weights.from_json(json.loads(row[0])) if row else DEFAULT_WEIGHTS
        return self._weights

    def set_weights(self, weights: Weights) -> None:
        """Store weights (estimated elsewhere, e.g. by bulk linking) for every later match."""
        self.conn.execute(_UPSERT_META, ("weights", json.dumps(weights.as_json())))
        self._weights = weights

    def estimate_weights(self, *, sample: int = 5_000, random_pairs: int = 100_000, seed: int = 0) -> Weights:
        """Estimate weights from the index itself and store them: u from random pairs of a sample of
        registrations, m by EM over the candidates those registrations find (see ``_weights``).
        """
        rng = random.Random(seed)
        top = self.conn.execute("SELECT max(reg) FROM mpi_registrations").fetchone()[0] or 0
        picks = sorted({rng.randrange(1, top + 1) for _ in range(sample)}) if top else []
        chosen = [_profile_row(r)[1] for r in self._rows(picks)]
        randoms: Counter[tuple[int, ...]] = Counter()
        if len(chosen) > 1:
            for _ in range(random_pairs):
                a, b = rng.sample(range(len(chosen)), 2)
                randoms[compare(chosen[a], chosen[b]).levels] += 1
        observed: Counter[tuple[tuple[int, ...], int]] = Counter()
        for p in chosen:
            for _, q in self._candidates(p):
                if q.record_id != p.record_id:
                    c = compare(p, q)
                    observed[c.levels, label(c)] += 1
        weights = estimate(observed, start=estimate_u(randoms))
        self.set_weights(weights)
        return weights

    # -- matching -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self._meta().get("n", 0))

    def master_of(self, record_id: str) -> str | None:
        sql = "SELECT master_id FROM mpi_registrations WHERE record_id = ?"
        row = self.conn.execute(sql, (record_id,)).fetchone()
        return None if row is None else str(row[0])

    def members(self, master_id: str) -> list[str]:
        """The record ids of a master person's registrations."""
        rows = self.conn.execute(
            "SELECT record_id FROM mpi_registrations WHERE master_id = ? ORDER BY record_id", (master_id,)
        )
        return [r[0] for r in rows]

    def registration(self, record_id: str) -> Registration | None:
        """The registration indexed under ``record_id``, as it was given; None if it is not indexed."""
        row = self.conn.execute(f"{_SELECT} WHERE record_id = ?", (record_id,)).fetchone()
        return None if row is None else _registration(row)

    def match(self, registration: Registration, *, limit: int = 5) -> Decision:
        """Decide what ``registration`` is: one of the indexed master persons, a review, or new (rule 5)."""
        p = profile(registration)
        compared = []
        for master_id, q in self._candidates(p):
            if q.record_id != p.record_id:
                compared.append((master_id, q, compare(p, q)))
        keys = {k for _, _, c in compared for k in c.freq_keys if k is not None}
        freq = self._frequencies(keys)
        prior = prior_log_odds(max(len(self), 2))
        weights = self.weights
        best: dict[str, Candidate] = {}
        rank = {Outcome.LINK: 2, Outcome.REVIEW: 1, Outcome.NEW: 0}
        for master_id, q, c in compared:
            s, bits = score(c, weights, prior, freq)
            prob = probability(s)
            outcome, rule = judge(c, prob)
            held = best.get(master_id)
            if held is not None and (rank[held.outcome], held.score) >= (rank[outcome], s):
                continue
            shown = evidence(p, q, c, bits)
            best[master_id] = Candidate(master_id, q.record_id, prob, s, outcome, rule, shown)
        ordered = sorted(best.values(), key=lambda c: (-rank[c.outcome], -c.score, c.master_id))
        links = [c for c in ordered if c.outcome is Outcome.LINK]
        top = tuple(ordered[:limit])
        if len(links) == 1:
            return Decision(Outcome.LINK, links[0].master_id, top, f"linked by {links[0].rule}")
        if len(links) > 1:
            reason = f"{len(links)} master persons would link: they may be one person held twice"
            return Decision(Outcome.REVIEW, None, top, reason)
        if ordered and ordered[0].outcome is Outcome.REVIEW:
            return Decision(Outcome.REVIEW, None, top, f"possible match ({ordered[0].rule})")
        return Decision(Outcome.NEW, None, top, "no master person matches")

    def _candidates(self, p: Profile) -> list[tuple[str, Profile]]:
        regs: dict[int, None] = {}
        for pass_index, key in blocking_keys(p):
            cap = PASSES[pass_index].cap
            rows = self.conn.execute(_BLOCK, (key_hash(key), cap + 1))
            found = [r[0] for r in rows]
            if len(found) <= cap:
                regs.update(dict.fromkeys(found))
            if len(regs) >= MAX_CANDIDATES:
                break
        return [_profile_row(row) for row in self._rows(list(regs)[:MAX_CANDIDATES])]

    def _rows(self, regs: Sequence[int]) -> list[tuple[str, ...]]:
        out: list[tuple[str, ...]] = []
        for start in range(0, len(regs), 500):
            chunk = regs[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            out += self.conn.execute(f"{_SELECT} WHERE reg IN ({marks})", chunk).fetchall()
        return out

    def _frequencies(self, keys: Iterable[str]) -> Frequencies:
        keys = list(keys)
        meta = self._meta()
        n = int(meta.get("n", 0))
        mean = {k[3:]: v / (n * n) for k, v in meta.items() if k.startswith("sq:") and n}
        counts: dict[str, int] = {}
        if keys:
            by_hash = {key_hash(k): k for k in keys}
            marks = ", ".join("?" * len(by_hash))
            rows = self.conn.execute(f"SELECT key, n FROM mpi_values WHERE key IN ({marks})", list(by_hash))
            counts.update((by_hash[h], c) for h, c in rows)
        return Frequencies(counts, n, mean)


def _registration(row: Sequence[object]) -> Registration:
    return Registration(str(row[1]), *(str(v) for v in row[3:]))


def _profile_row(row: Sequence[object]) -> tuple[str, Profile]:
    return str(row[2]), profile(_registration(row))
