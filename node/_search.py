"""Resident search for the registration desk: names, pinyin, initials and identifiers.

Every resident gets rows ``(key, resident_id, kind)`` in ``search_keys``;
:func:`index_resident` replaces them inside the caller's write transaction and
:func:`find` answers what a clerk typed, best first.

Rules:

1. Kinds and keys.

   ``name``         the name as written, NFKC, without spaces or middle dots (张三).
                    A name written wholly in Latin letters (John, Zoë) is
                    indexed as ``latin`` instead.
   ``pinyin``       full pinyin, lowercase, no spaces or tones (zhangsan).
   ``initials``     first letter of each syllable (zs).
   ``latin``        ``name_latin`` folded: accents dropped, lowercased, only a-z/0-9.
   ``id_number``    the identity number, upper case (final ``X``).
   ``card_number``, ``other_id``   upper case, only A-Z/0-9 (``ab-12`` → ``AB12``).
   ``phone``        digits only; a landline written ``0571-88776655`` also gets its
                    local part ``88776655``.
   ``id_suffix``    ``#`` + the identity number reversed, for "last 6+ digits"
                    search (rule 5). ``find`` reports these hits as ``id_number``,
                    ``exact=False``.

2. Names are read as ``schemas._names`` reads them (its rules 1-3): per
   character, never through pypinyin's phrase dictionary (a phrase reading of
   a whole name is wrong more often than right). The
   surname is the first two characters when they form a compound surname
   (欧阳, 司马 …) and the name has at least three characters, else the first.
   A surname in :data:`SURNAME_READINGS` is indexed under its surname reading(s)
   *and* its common reading (曾 → zeng and ceng); other surnames under the
   common reading only. Each given-name character contributes its common
   reading and then its other readings (heteronyms), fewest departures from the
   common reading first. At most :data:`MAX_VARIANTS` readings of a name are
   indexed; the first is "surname reading + common given-name readings".
   Characters pypinyin does not know are skipped.

3. ``ü`` is indexed as both ``v`` and ``u`` (吕 → lv and lu); a variant's two
   spellings count as one variant. Initials are indexed for every variant.

4. pypinyin is imported (by ``schemas._names``) inside the functions that need it, never at module
   import: it costs ~57 MB RSS (~13 MB with ``PYPINYIN_NO_PHRASES=1``, which is
   safe for this module since it never uses phrases) and most writes never need
   it. Per-character readings are cached.

5. Query classification (after NFKC, so full-width input works, and strip;
   empty → no hits):

   - 17 digits + digit/X: the identity number, exact (also checked against
     phone, card and other ids, exactly).
   - digits (spaces, ``-``, ``+``, brackets ignored; a final X allowed): exact
     phone, card number, other id (``+86``/``86`` before an 11-digit mobile is
     dropped); with 6 or more characters also an identity-number *suffix*: the
     clerk typed the last digits of the ID. This costs one extra key row per
     resident with an ID and is a prefix range scan on the reversed number, so
     any suffix length from 6 to 17 works. Shorter suffixes are not searched:
     too many hits to be useful.
   - letters only (spaces, apostrophes, hyphens, dots ignored; case and
     accents folded, so ``Zhang San`` == ``zhangsan`` and ``lü`` == ``lu``):
     prefix search over ``pinyin``, ``initials`` and ``latin``, plus exact card
     number / other id lookups of the upper-cased letters.
   - anything else containing a non-ASCII character (Chinese): name prefix.
   - other letters+digits: exact card number / other id.

6. Order: exact matches before prefix matches; within a class by key, then
   resident id (so for letters: identifier hits, then every kind whose key
   equals the query, then prefix hits in key order). A resident appears once,
   at its best position, with the kind that put it there (same key: pinyin
   before initials before latin; id_number before phone, card, other id). Prefix search is an
   index range scan ``key >= ? AND key < ?`` read lazily and stopped at
   ``limit``, so a one-letter query costs the same as a full name.
"""

from __future__ import annotations

import itertools
import re
import sqlite3
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from schemas._names import (
    COMPOUND_SURNAMES,
    MAX_VARIANTS,
    SURNAME_READINGS,
    fold_latin,
    is_latin_text,
    name_key,
    pinyin_variants,
)

__all__ = [
    "COMPOUND_SURNAMES",
    "MAX_VARIANTS",
    "SURNAME_READINGS",
    "SearchHit",
    "find",
    "index_resident",
    "search_keys",
]

_KIND_NAME = "name"
_KIND_PINYIN = "pinyin"
_KIND_INITIALS = "initials"
_KIND_LATIN = "latin"
_KIND_ID = "id_number"
_KIND_CARD = "card_number"
_KIND_PHONE = "phone"
_KIND_OTHER = "other_id"
_KIND_ID_SUFFIX = "id_suffix"
_SUFFIX_MARK = "#"  # sorts below digits and letters: suffix keys never fall in another scan
_MIN_SUFFIX = 6

_ID_RE = re.compile(r"\d{17}[\dX]")
_DIGITS_RE = re.compile(r"\d+X?")
_LETTERS_RE = re.compile(r"[a-z]+")
_PHONE_SEPARATORS_RE = re.compile(r"[\s\-+()]+")
_NOT_ALNUM_RE = re.compile(r"[^0-9A-Z]+")

_LETTER_KINDS = (_KIND_PINYIN, _KIND_INITIALS, _KIND_LATIN)
_CODE_KINDS = (_KIND_CARD, _KIND_OTHER)
_NUMBER_KINDS = (_KIND_ID, _KIND_PHONE, _KIND_CARD, _KIND_OTHER)


@dataclass(frozen=True)
class SearchHit:
    resident_id: str
    matched: str  # the kind that matched, e.g. "initials"
    exact: bool


# -- keys -------------------------------------------------------------------


def search_keys(resident: dict[str, Any]) -> list[tuple[str, str]]:
    """(key, kind) pairs to index for one resident's current demographics."""
    out: list[tuple[str, str]] = []
    name = resident.get("name")
    if isinstance(name, str):
        written = name_key(name)
        if written and not is_latin_text(written):
            out.append((written, _KIND_NAME))
            for variant in pinyin_variants(written):
                out.append(("".join(variant), _KIND_PINYIN))
                out.append(("".join(s[0] for s in variant), _KIND_INITIALS))
                if any("v" in s for s in variant):
                    out.append(("".join(variant).replace("v", "u"), _KIND_PINYIN))
        elif written:
            out.extend(_latin_keys(name))
    latin = resident.get("name_latin")
    if isinstance(latin, str):
        out.extend(_latin_keys(latin))
    id_number = resident.get("id_number")
    if isinstance(id_number, str) and (idn := _code_key(id_number)):
        out.append((idn, _KIND_ID))
        if len(idn) >= _MIN_SUFFIX:
            out.append((_SUFFIX_MARK + idn[::-1], _KIND_ID_SUFFIX))
    card = resident.get("card_number")
    if isinstance(card, str) and (code := _code_key(card)):
        out.append((code, _KIND_CARD))
    phone = resident.get("phone")
    if isinstance(phone, str):
        out.extend((key, _KIND_PHONE) for key in _phone_keys(phone))
    for other in resident.get("other_ids") or ():
        number = other.get("number") if isinstance(other, dict) else None
        if isinstance(number, str) and (code := _code_key(number)):
            out.append((code, _KIND_OTHER))
    return list(dict.fromkeys(out))


def index_resident(conn: sqlite3.Connection, resident_id: str, resident: dict[str, Any]) -> None:
    """Replace this resident's rows in search_keys (caller holds the write transaction)."""
    conn.execute("DELETE FROM search_keys WHERE resident_id = ?", (resident_id,))
    conn.executemany(
        "INSERT OR IGNORE INTO search_keys (key, resident_id, kind) VALUES (?, ?, ?)",
        [(key, resident_id, kind) for key, kind in search_keys(resident)],
    )


def _latin_keys(text: str) -> list[tuple[str, str]]:
    key = fold_latin(text)
    return [(key, _KIND_LATIN)] if key else []


def _code_key(text: str) -> str:
    return _NOT_ALNUM_RE.sub("", unicodedata.normalize("NFKC", text).upper())


def _phone_keys(phone: str) -> list[str]:
    text = unicodedata.normalize("NFKC", phone).strip()
    keys = ["".join(c for c in text if c.isdigit())]
    if "-" in text:
        keys.append("".join(c for c in text.rsplit("-", 1)[1] if c.isdigit()))
    return [k for k in keys if k]


# -- queries ----------------------------------------------------------------


def find(conn: sqlite3.Connection, query: str, *, limit: int = 20) -> list[SearchHit]:
    """Resident ids matching what a clerk typed, best first."""
    text = unicodedata.normalize("NFKC", query).strip()
    if not text or limit <= 0:
        return []
    hits = _Hits(conn, limit)
    digits = _PHONE_SEPARATORS_RE.sub("", text.upper())
    letters = fold_latin(text)
    if _ID_RE.fullmatch(digits):
        hits.exact([digits], _NUMBER_KINDS)
    elif _DIGITS_RE.fullmatch(digits):
        keys = [digits]
        if len(digits) == 13 and digits.startswith("86"):
            keys.append(digits[2:])  # +86 before a mobile number
        hits.exact(keys, _NUMBER_KINDS)
        if len(digits) >= _MIN_SUFFIX:
            hits.prefix(_SUFFIX_MARK + digits[::-1], (_KIND_ID_SUFFIX,), exact_key=None)
    elif _LETTERS_RE.fullmatch(letters) and is_latin_text(text):
        hits.exact([letters.upper()], _CODE_KINDS)
        hits.prefix(letters, _LETTER_KINDS, exact_key=letters)
    elif not text.isascii():
        if name := name_key(text):
            hits.prefix(name, (_KIND_NAME,), exact_key=name)
    elif code := _code_key(text):
        hits.exact([code], _CODE_KINDS)
    return hits.found


class _Hits:
    """Hits collected in rank order: de-duplicated by resident, stopping at limit."""

    def __init__(self, conn: sqlite3.Connection, limit: int) -> None:
        self.conn = conn
        self.limit = limit
        self.found: list[SearchHit] = []
        self._seen: set[str] = set()

    def exact(self, keys: list[str], kinds: tuple[str, ...]) -> None:
        """Rows whose key is one of keys: few, so read them all and sort here."""
        if len(self.found) >= self.limit:
            return
        keys = list(dict.fromkeys(keys))
        rows = self.conn.execute(
            "SELECT key, resident_id, kind FROM search_keys "
            f"WHERE key IN ({_marks(keys)}) AND kind IN ({_marks(kinds)})",
            (*keys, *kinds),
        ).fetchall()
        rows.sort(key=lambda r: (r[0], r[1], kinds.index(r[2])))
        self._take(rows, kinds, lambda key: True)

    def prefix(self, prefix: str, kinds: tuple[str, ...], *, exact_key: str | None) -> None:
        """Range scan over the primary key, read lazily and abandoned once full."""
        if len(self.found) >= self.limit:
            return
        end = _prefix_end(prefix)
        sql = "SELECT key, resident_id, kind FROM search_keys WHERE key >= ?"
        args: list[str] = [prefix]
        if end is not None:
            sql += " AND key < ?"
            args.append(end)
        sql += f" AND kind IN ({_marks(kinds)}) ORDER BY key, resident_id"
        cursor = self.conn.execute(sql, (*args, *kinds))
        try:
            self._take(cursor, kinds, lambda key: key == exact_key)
        finally:
            cursor.close()  # finish the statement: no read snapshot left open

    def _take(
        self,
        rows: Iterable[tuple[str, str, str]],
        kinds: tuple[str, ...],
        is_exact: Callable[[str], bool],
    ) -> None:
        # rows come ordered by (key, resident_id); of one resident's rows under
        # one key, report the kind listed first in kinds (pinyin over latin …).
        for (key, resident_id), group in itertools.groupby(rows, key=lambda r: (r[0], r[1])):
            if len(self.found) >= self.limit:
                return
            if resident_id in self._seen:
                continue
            self._seen.add(resident_id)
            kind = min((r[2] for r in group), key=kinds.index)
            matched = _KIND_ID if kind == _KIND_ID_SUFFIX else kind
            self.found.append(SearchHit(resident_id, matched, is_exact(key)))


def _marks(values: tuple[str, ...] | list[str]) -> str:
    return ",".join("?" * len(values))


def _prefix_end(prefix: str) -> str | None:
    """The smallest string above every string starting with prefix (None: no such string)."""
    chars = list(prefix)
    while chars:
        last = ord(chars.pop())
        if last < 0x10FFFF:
            nxt = 0xE000 if 0xD7FF <= last < 0xE000 else last + 1  # no surrogates in UTF-8
            return "".join(chars) + chr(nxt)
    return None
