"""Money as an integer of minor units with a currency: never a float."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ValueError(f"currency must be an ISO 4217 code like 'GBP', got {self.currency!r}")

    def times(self, quantity: int) -> Money:
        return Money(self.amount * quantity, self.currency)


def parse_minor_units(text: str) -> int:
    """Read a decimal amount written with up to two decimals ("12.50", "12") as minor units.

    Raises ValueError for anything else, so a bad cell is reported, never rounded silently.
    """
    raw = text.strip()
    if not raw:
        raise ValueError("empty amount")
    negative = raw.startswith("-")
    if negative:
        raw = raw[1:]
    whole, _, frac = raw.partition(".")
    if not whole.isdigit() or (frac and (not frac.isdigit() or len(frac) > 2)):
        raise ValueError(f"not an amount with at most two decimals: {text!r}")
    value = int(whole) * 100 + int(frac.ljust(2, "0") or "0")
    return -value if negative else value
