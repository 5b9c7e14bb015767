"""Checks of a set of pages' gettext catalogues, shared by the clinic's and the hub's page tests."""

from __future__ import annotations

import ast
import gettext
from pathlib import Path

from jinja2 import Environment


def po_catalogue(path: Path) -> dict[str, str]:
    """msgid → msgstr of a .po file (single and continued lines; no plurals or contexts in ours)."""
    out: dict[str, str] = {}
    key: str | None = None
    parts: dict[str, list[str]] = {}
    for raw in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = raw.strip()
        if line.startswith(("msgid ", "msgstr ")):
            key, _, rest = line.partition(" ")
            parts[key] = [rest]
        elif line.startswith('"') and key:
            parts[key].append(line)
        elif not line and "msgid" in parts:
            msgid, msgstr = ("".join(ast.literal_eval(s) for s in parts[k]) for k in ("msgid", "msgstr"))
            if msgid and msgstr:
                out[msgid] = msgstr
            parts, key = {}, None
    return out


def compiled_differences(locale_dir: Path) -> list[str]:
    """Every ``.po`` under ``locale_dir`` whose ``.mo`` is missing or says something else."""
    wrong = []
    for po in sorted(locale_dir.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if not mo.exists():
            wrong.append(f"{mo} is missing")
            continue
        with mo.open("rb") as fp:
            compiled = gettext.GNUTranslations(fp)
        catalogue = {k: v for k, v in compiled._catalog.items() if k}  # type: ignore[attr-defined]
        if catalogue != po_catalogue(po):
            wrong.append(f"{mo} differs from {po.name}: run msgfmt --check -o {mo} {po}")
    return wrong


def template_messages(template_dir: Path) -> set[str]:
    env = Environment(extensions=["jinja2.ext.i18n"])
    used = set()
    for template in template_dir.glob("*.html"):
        for _, _, msg in env.extract_translations(template.read_text(encoding="utf-8")):  # type: ignore[attr-defined]
            used.add(msg[0] if isinstance(msg, tuple) else msg)
    return used


def untranslated(template_dir: Path, locale_dir: Path) -> dict[str, list[str]]:
    """Template messages missing from the Chinese catalogues (untranslated) or the English ones."""
    used = template_messages(template_dir)
    zh: dict[str, str] = {}
    en: set[str] = set()
    for po in locale_dir.glob("zh_CN/LC_MESSAGES/*.po"):
        zh |= po_catalogue(po)
    for po in locale_dir.glob("en/LC_MESSAGES/*.po"):
        text = po.read_text(encoding="utf-8")
        en |= {m for m in used if 'msgid "' + m.replace('"', '\\"') + '"' in text}
    return {"zh_CN": sorted(used - set(zh)), "en": sorted(used - en)}
