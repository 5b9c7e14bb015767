"""Money at the cashier's desk: integer fen, prices from the catalogues, the insurance share.

Rules:
1. Amounts are whole fen (分, 0.01 yuan) held in ``int``; a price written in yuan
   ("8.40") becomes fen through ``Decimal`` and must be exact. No float ever
   carries money.
2. The insurance share is the scheme's outpatient rule applied to the lines the
   scheme covers, as data (``schemas/data/insurance_scheme.json``)::

       eligible   = sum of the covered lines
       deductible = min(eligible, deductible not yet met this year)        起付线
       share      = round_half_up((eligible - deductible) * ratio / 1000)  报销比例 (‰)
       insurance  = min(share, annual cap not yet used this year)          年度封顶
       resident   = total - insurance

   so ``insurance + resident == total`` and neither is ever negative.
3. What counts as "this year" is the caller's: the sums of earlier settlements
   of the same resident in the same calendar year (``YearToDate``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ._codes import code_list

__all__ = [
    "ChargeItem",
    "OutpatientRule",
    "SettlementSplit",
    "YearToDate",
    "drug_price_fen",
    "fen_to_yuan",
    "outpatient_rule",
    "service_price_fen",
    "split",
    "yuan_to_fen",
]


def yuan_to_fen(value: str | int | Decimal) -> int:
    """Whole fen of an amount in yuan ("8.40" -> 840); ValueError unless exact to the fen and >= 0."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount in yuan") from None
    fen = amount * 100
    if not amount.is_finite() or fen != fen.to_integral_value() or amount < 0:
        raise ValueError(f"{value!r} is not a non-negative amount in yuan with at most 2 decimals")
    return int(fen)


def fen_to_yuan(fen: int) -> str:
    """The amount as yuan text with two decimals (840 -> "8.40"; -150 -> "-1.50")."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def drug_price_fen(code: str) -> int:
    """The catalogue price of one dispensing unit (pack) of a drug of the essential medicines list."""
    entry = code_list("drug").get(code)
    if entry is None or entry.extra.get("price") is None:
        raise KeyError(f"no price for drug {code!r} in the essential medicines catalogue")
    return yuan_to_fen(entry.extra["price"])


def service_price_fen(code: str) -> int:
    """The catalogue price of one unit of a service (fee, treatment, examination, test)."""
    entry = code_list("service").get(code)
    if entry is None:
        raise KeyError(f"no service {code!r} in the service catalogue")
    return yuan_to_fen(entry.extra["price"])


@dataclass(frozen=True)
class OutpatientRule:
    """A scheme's outpatient reimbursement: annual deductible, ratio in per mille, annual cap."""

    scheme: str
    deductible_fen: int
    ratio_permille: int
    annual_cap_fen: int
    covered_categories: frozenset[str]

    def __post_init__(self) -> None:
        if min(self.deductible_fen, self.annual_cap_fen) < 0 or not 0 <= self.ratio_permille <= 1000:
            raise ValueError(f"insurance scheme {self.scheme}: rule out of range")


def outpatient_rule(scheme: str) -> OutpatientRule | None:
    """The outpatient rule of ``scheme`` (a code of ``insurance_scheme``); None for self-pay."""
    entry = code_list("insurance_scheme").get(scheme)
    if entry is None:
        raise KeyError(f"{scheme!r} is not a known insurance scheme")
    raw: dict[str, Any] | None = entry.extra.get("outpatient")
    if raw is None:
        return None
    return OutpatientRule(
        scheme=scheme,
        deductible_fen=int(raw["deductible_fen"]),
        ratio_permille=int(raw["ratio_permille"]),
        annual_cap_fen=int(raw["annual_cap_fen"]),
        covered_categories=frozenset(raw["covered_categories"]),
    )


@dataclass(frozen=True)
class ChargeItem:
    """One line to settle: its amount and whether the scheme may cover it."""

    amount_fen: int
    category: str
    insured: bool


@dataclass(frozen=True)
class YearToDate:
    """What earlier settlements of the resident this calendar year already used."""

    deductible_met_fen: int = 0
    insurance_paid_fen: int = 0


@dataclass(frozen=True)
class SettlementSplit:
    total_fen: int
    eligible_fen: int
    deductible_fen: int
    ratio_permille: int
    cap_remaining_fen: int | None  # before this settlement; None without a rule
    insurance_fen: int
    self_fen: int

    def as_json(self) -> dict[str, int | None]:
        return {
            "eligible_fen": self.eligible_fen,
            "deductible_fen": self.deductible_fen,
            "ratio_permille": self.ratio_permille,
            "cap_remaining_fen": self.cap_remaining_fen,
            "insurance_fen": self.insurance_fen,
            "self_fen": self.self_fen,
        }


def split(items: list[ChargeItem], rule: OutpatientRule | None, ytd: YearToDate) -> SettlementSplit:
    """Divide the total of ``items`` between the insurance fund and the resident (module rule 2)."""
    if any(i.amount_fen < 0 for i in items):
        raise ValueError("a charge line cannot be negative")
    total = sum(i.amount_fen for i in items)
    if rule is None:
        return SettlementSplit(total, 0, 0, 0, None, 0, total)
    eligible = sum(i.amount_fen for i in items if i.insured and i.category in rule.covered_categories)
    deductible = min(eligible, max(0, rule.deductible_fen - ytd.deductible_met_fen))
    share = ((eligible - deductible) * rule.ratio_permille * 2 + 1000) // 2000  # half up, exact
    cap_remaining = max(0, rule.annual_cap_fen - ytd.insurance_paid_fen)
    insurance = min(share, cap_remaining)
    return SettlementSplit(
        total, eligible, deductible, rule.ratio_permille, cap_remaining, insurance, total - insurance
    )
