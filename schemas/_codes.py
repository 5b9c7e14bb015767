"""Code lists shipped as data (``schemas/data/*.json``).

Each file holds one list: ``{"name", "title", "codes": [{"code", "zh", "en", ...}]}``.
Lists are loaded once, on first use, and are read-only afterwards.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["Code", "CodeList", "code_list", "code_list_names"]


@dataclass(frozen=True)
class Code:
    code: str
    zh: str
    en: str
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "zh": self.zh, "en": self.en, **self.extra}


class CodeList:
    """One code list: exact lookup by code and a simple search for pick-lists."""

    def __init__(self, name: str, title: str, codes: list[Code]) -> None:
        self.name = name
        self.title = title
        self.codes = codes
        self._by_code = {c.code: c for c in codes}

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __len__(self) -> int:
        return len(self.codes)

    def get(self, code: str) -> Code | None:
        return self._by_code.get(code)

    def search(self, query: str, *, limit: int = 20) -> list[Code]:
        """Codes whose code starts with, or whose Chinese or English name contains, ``query``.

        Code-prefix matches come first, so ``E11`` lists the type 2 diabetes codes
        before anything that merely mentions them.
        """
        q = query.strip()
        if not q:
            return self.codes[:limit]
        qu, ql = q.upper(), q.lower()
        by_code = [c for c in self.codes if c.code.upper().startswith(qu)]
        seen = {c.code for c in by_code}
        by_name = [c for c in self.codes if c.code not in seen and (q in c.zh or ql in c.en.lower())]
        return (by_code + by_name)[:limit]


def code_list_names() -> list[str]:
    return sorted(
        p.name[: -len(".json")]
        for p in resources.files("schemas").joinpath("data").iterdir()
        if p.name.endswith(".json")
    )


@cache
def code_list(name: str) -> CodeList:
    """The code list called ``name`` (``sex``, ``icd10``, ``division`` …)."""
    path = resources.files("schemas").joinpath("data", f"{name}.json")
    if not path.is_file():
        raise KeyError(f"no code list called {name!r} (known: {', '.join(code_list_names())})")
    raw = json.loads(path.read_text(encoding="utf-8"))
    codes = [
        Code(
            code=str(c["code"]),
            zh=c.get("zh", ""),
            en=c.get("en", ""),
            extra={k: v for k, v in c.items() if k not in ("code", "zh", "en")},
        )
        for c in raw["codes"]
    ]
    return CodeList(raw["name"], raw["title"], codes)
