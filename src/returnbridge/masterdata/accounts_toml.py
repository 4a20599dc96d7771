"""Read the accounts file (TOML): one entry per Amazon Vendor Central account, with errors that
name the file, the entry and the field. Secrets never go in the file: an account names the
environment variables that hold its LWA credentials."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from returnbridge.domain.accounts import (
    MARKETPLACES,
    Accounts,
    ClaimRoute,
    ClaimRule,
    ClaimStart,
    Credentials,
    Region,
    VendorAccount,
    default_claim_rule,
)
from returnbridge.domain.errors import MasterDataError
from returnbridge.masterdata.toml_file import read_text, validated

AccountName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,19}$")]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]{0,99}$")]
Party = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20)]
WarehouseId = Annotated[str, StringConstraints(pattern=r"^[\w.\-]{1,64}$")]
Series = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{0,23}$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]

ENV_HELP = (
    "the NAME of an environment variable (capitals, digits, _), never the secret itself: "
    "returnbridge reads the secret from that variable"
)


class _Claims(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    window_days: int | None = Field(default=None, ge=1, le=365)
    starts: ClaimStart | None = None
    route: ClaimRoute = ClaimRoute.VENDOR_DISPUTE


class _Account(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    region: Region
    marketplace: str
    selling_party: Party
    remit_to_party: Party | None = None
    currency: Currency | None = None
    warehouses: list[WarehouseId] = Field(default_factory=list)
    lwa_client_id_env: EnvName
    lwa_client_secret_env: EnvName
    lwa_refresh_token_env: EnvName
    credit_note_series: Series | None = None
    claims: _Claims = _Claims()


class _AccountsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    accounts: dict[AccountName, _Account] = Field(min_length=1)


def _problem(name: str, err: Any) -> str:
    loc = [str(p) for p in err["loc"]]
    msg = str(err["msg"])
    if loc and loc[-1].startswith("lwa_") and "pattern" in msg:
        msg = f"must be {ENV_HELP}"
    elif len(loc) == 2 and loc[0] == "accounts":
        msg = f"an account name is 1 to 20 lower-case letters, digits, - or _ ({msg})"
    if len(loc) >= 3 and loc[0] == "accounts":
        return f"{name}: entry 'accounts.{loc[1]}', field '{'.'.join(loc[2:])}': {msg}"
    return f"{name}: field '{'.'.join(loc)}': {msg}"


def parse_accounts(text: str, name: str = "accounts.toml", prefix: str = "RBCN") -> Accounts:
    raw = validated(text, name, _AccountsFile, _problem)
    problems: list[str] = []
    owners: dict[str, str] = {}
    series: dict[str, str] = {}
    accounts: dict[str, VendorAccount] = {}
    for key, a in sorted(raw.accounts.items()):
        where = f"{name}: entry 'accounts.{key}'"
        market = MARKETPLACES.get(a.marketplace) or next(
            (m for m in MARKETPLACES.values() if m.country == a.marketplace.upper()), None
        )
        if market is None:
            problems.append(
                f"{where}, field 'marketplace': {a.marketplace!r} is not an Amazon marketplace id "
                "(e.g. A1F83G8C2ARO7P for amazon.co.uk) nor its country code (UK)"
            )
            continue
        if market.region is not a.region:
            problems.append(
                f"{where}, field 'region': marketplace {market.id} ({market.country}) sells in "
                f"region '{market.region.value}', not '{a.region.value}'"
            )
        for warehouse in a.warehouses:
            if warehouse in owners:
                problems.append(
                    f"{where}, field 'warehouses': {warehouse} is already account "
                    f"{owners[warehouse]!r}'s: an Amazon warehouse belongs to one account"
                )
            owners.setdefault(warehouse, key)
        numbers = a.credit_note_series or f"{prefix}-{key.upper().replace('_', '-')}"
        if numbers in series:
            problems.append(
                f"{where}, field 'credit_note_series': {numbers} is already account "
                f"{series[numbers]!r}'s: each account numbers its credit notes in its own series"
            )
        series.setdefault(numbers, key)
        envs = (a.lwa_client_id_env, a.lwa_client_secret_env, a.lwa_refresh_token_env)
        if len(set(envs)) < 3:
            problems.append(f"{where}: the three lwa_*_env fields must name three variables")
        accounts[key] = VendorAccount(
            name=key,
            region=a.region,
            marketplace=market.id,
            selling_party=a.selling_party,
            remit_to_party=a.remit_to_party or a.selling_party,
            currency=a.currency or market.currency,
            warehouses=tuple(a.warehouses),
            credentials=Credentials(*envs),
            credit_note_series=numbers,
            claims=_claim_rule(market.id, a.claims),
        )
    if problems:
        raise MasterDataError("; ".join(problems))
    return Accounts(accounts)


def _claim_rule(marketplace: str, given: _Claims) -> ClaimRule:
    """The marketplace's rule (``default_claim_rule``), with what the file says over it."""
    rule = default_claim_rule(marketplace)
    return ClaimRule(
        given.window_days or rule.window_days, given.starts or rule.starts, given.route
    )


def read_accounts(path: Path, prefix: str = "RBCN") -> Accounts:
    return parse_accounts(read_text(path), path.name, prefix)


__all__ = ["parse_accounts", "read_accounts"]
