"""The clinic's pages' templates and message catalogues (the language rules: ``schemas.i18n``).

The messages are split by area, one gettext domain each, in
``locale/<lang>/LC_MESSAGES/<domain>.po`` (compiled to ``.mo``):

- ``rhip``: login, the desk, registration, the resident page, the queue, sync;
- ``visit``: recording a visit, the cashier, the pharmacy and the examinations;
- ``care``: follow-ups, referrals, consultations, the shared summary and break-glass.
"""

from __future__ import annotations

import functools
from pathlib import Path

from schemas.i18n import DEFAULT_LANG, LANG_COOKIE, LANGS, Languages, negotiate

__all__ = [
    "DEFAULT_LANG",
    "DOMAINS",
    "LANGS",
    "LANG_COOKIE",
    "LOCALE_DIR",
    "TEMPLATE_DIR",
    "Languages",
    "languages",
    "negotiate",
]

LOCALE_DIR = Path(__file__).parent / "locale"
TEMPLATE_DIR = Path(__file__).parent / "templates"
DOMAINS = ("rhip", "visit", "care")


@functools.cache
def languages() -> Languages:
    """The pages' Jinja environments, one per language (built once: the templates are read-only)."""
    return Languages(TEMPLATE_DIR, LOCALE_DIR, DOMAINS)
