"""The web pages' languages, shared by the clinic's pages and the hub's console.

Rules:
1. Two languages: Simplified Chinese (``zh_CN``, the default) and English (``en``).
2. ``?lang=`` wins, then the ``rhip_lang`` cookie (set when ``?lang=`` is given),
   then ``Accept-Language``: English only when the browser prefers an English
   tag over any Chinese one; anything else, or nothing, is Chinese.
3. Messages are GNU gettext catalogues, ``<locale>/<lang>/LC_MESSAGES/<domain>.po``,
   compiled to ``<domain>.mo`` beside them (``msgfmt``; the tests hold the two in
   step). msgids are English, so the English catalogue may leave them as they are.
   A set of pages may split its messages over several domains (one per area of
   the app); they are searched in the order given.
4. Each language has its own Jinja environment with its translations
   installed once, so rendering never swaps translations under a running thread.
"""

from __future__ import annotations

import gettext
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

__all__ = ["DEFAULT_LANG", "LANGS", "LANG_COOKIE", "Languages", "negotiate", "translations"]

LANGS = ("zh_CN", "en")
DEFAULT_LANG = "zh_CN"
LANG_COOKIE = "rhip_lang"

_ALIASES = {"zh": "zh_CN", "zh_cn": "zh_CN", "zh-cn": "zh_CN", "zh-hans": "zh_CN", "en": "en"}


def _known(tag: str | None) -> str | None:
    if not tag:
        return None
    tag = tag.strip().lower()
    return _ALIASES.get(tag) or _ALIASES.get(tag.split("-")[0].split("_")[0])


def _preferred(accept_language: str) -> str | None:
    """The first known language of an ``Accept-Language`` header, by q-value then order."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            name, _, value = p.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        lang = _known(tag)
        if lang is not None and q > 0:
            ranked.append((-q, i, lang))
    return min(ranked)[2] if ranked else None


def negotiate(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The language of a page (rule 2)."""
    for given in (query, cookie):
        if (lang := _known(given)) is not None:
            return lang
    return _preferred(accept_language or "") or DEFAULT_LANG


def translations(locale_dir: Path, lang: str, domains: Sequence[str]) -> gettext.NullTranslations:
    """The catalogues of ``domains`` for ``lang``, chained in order (rule 3); a missing file is an error."""
    chain: gettext.NullTranslations | None = None
    for domain in domains:
        with (locale_dir / lang / "LC_MESSAGES" / f"{domain}.mo").open("rb") as fp:
            found = gettext.GNUTranslations(fp)
        if chain is None:
            chain = found
        else:
            chain.add_fallback(found)
    return chain if chain is not None else gettext.NullTranslations()


class Languages:
    """One Jinja environment per language, over ``template_dir`` with the catalogues in ``locale_dir``."""

    def __init__(self, template_dir: Path, locale_dir: Path, domains: Sequence[str]) -> None:
        self._envs: dict[str, Environment] = {}
        for lang in LANGS:
            env = Environment(
                loader=FileSystemLoader(template_dir),
                autoescape=select_autoescape(default=True, default_for_string=True),
                undefined=StrictUndefined,
                extensions=["jinja2.ext.i18n"],
                trim_blocks=True,
                lstrip_blocks=True,
            )
            env.install_gettext_translations(  # type: ignore[attr-defined]
                translations(locale_dir, lang, domains), newstyle=True
            )
            self._envs[lang] = env

    def env(self, lang: str) -> Environment:
        return self._envs[lang]

    def render(self, lang: str, template: str, **context: Any) -> str:
        return self._envs[lang].get_template(template).render(lang=lang, **context)
