"""The accounts file: one entry per Vendor Central account, validated like the mappings, with
errors naming the file, the entry and the field, and never holding (or echoing) a secret."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from returnbridge.domain.accounts import Accounts, ClaimRoute, ClaimRule, ClaimStart, Region
from returnbridge.domain.errors import MasterDataError
from returnbridge.masterdata.accounts_toml import parse_accounts

UK = """
[accounts.uk]
region = "eu"
marketplace = "A1F83G8C2ARO7P"
selling_party = "CASTUK"
warehouses = ["CASTUK-LHR", "CASTUK-MAN"]
lwa_client_id_env = "RB_UK_LWA_CLIENT_ID"
lwa_client_secret_env = "RB_UK_LWA_CLIENT_SECRET"
lwa_refresh_token_env = "RB_UK_LWA_REFRESH_TOKEN"
"""
DE = UK.replace("uk]", "de]").replace("A1F83G8C2ARO7P", "DE").replace("CASTUK", "CASTDE")
DE = DE.replace("RB_UK", "RB_DE").replace(', "CASTDE-MAN"', "")


def test_two_accounts_take_their_currency_series_and_warehouses() -> None:
    accounts = parse_accounts(UK + DE)
    uk, de = accounts.accounts["uk"], accounts.accounts["de"]
    assert (uk.currency, uk.credit_note_series, uk.remit_to_party) == ("GBP", "RBCN-UK", "CASTUK")
    assert (de.marketplace, de.currency, de.region) == ("A1PA6795UKMFR9", "EUR", Region.EU)
    assert accounts.owner_of("CASTDE-LHR") is de and accounts.owner_of("XX") is None
    assert accounts.of_marketplace("A1F83G8C2ARO7P") is uk
    assert Accounts.from_dict(accounts.to_dict()) == accounts


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            UK.replace('region = "eu"', 'region = "na"'),
            "accounts.toml: entry 'accounts.uk', field 'region': marketplace A1F83G8C2ARO7P (UK) "
            "sells in region 'eu', not 'na'",
        ),
        (
            UK.replace("A1F83G8C2ARO7P", "A0NOPE"),
            "entry 'accounts.uk', field 'marketplace': 'A0NOPE' is not an Amazon marketplace id",
        ),
        (
            UK + DE.replace('"CASTDE-LHR"', '"CASTUK-MAN"'),
            "entry 'accounts.uk', field 'warehouses': CASTUK-MAN is already account 'de''s",
        ),
        (
            UK
            + DE.replace(
                'selling_party = "CASTDE"',
                'selling_party = "CASTDE"\ncredit_note_series = "RBCN-UK"',
            ),
            "field 'credit_note_series': RBCN-UK is already account 'de''s",
        ),
        ("", "field 'accounts': Field required"),
    ],
)
def test_a_bad_accounts_file_is_refused_naming_the_entry_and_field(text: str, said: str) -> None:
    with pytest.raises(MasterDataError) as refused:
        parse_accounts(text)
    assert said in refused.value.message


def test_a_secret_written_where_its_variable_name_goes_is_refused_and_not_echoed() -> None:
    secret = "Atzr|IwEBIA-a-real-looking-refresh-token"
    text = UK.replace('"RB_UK_LWA_REFRESH_TOKEN"', f'"{secret}"')
    with pytest.raises(MasterDataError) as refused:
        parse_accounts(text)
    said = refused.value.message
    assert "field 'lwa_refresh_token_env': must be the NAME of an environment variable" in said
    assert secret not in said and "Atzr" not in said


def test_claim_windows_default_by_marketplace_and_the_file_may_set_them() -> None:
    us = UK.replace("uk]", "us]").replace('"eu"', '"na"').replace("A1F83G8C2ARO7P", "US")
    us = us.replace("RB_UK", "RB_US").replace("CASTUK", "CASTUS")
    accounts = parse_accounts(UK + us)
    assert accounts.accounts["uk"].claims == ClaimRule(60, ClaimStart.REFUND)
    assert accounts.accounts["us"].claims == ClaimRule(30, ClaimStart.LATER_OF_DELIVERY_AND_REFUND)
    refunded, delivered = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC)
    assert accounts.accounts["us"].claims.deadline(refunded, delivered) == datetime(
        2026, 4, 8, tzinfo=UTC
    )
    assert accounts.accounts["uk"].claims.deadline(refunded, delivered) == datetime(
        2026, 4, 30, tzinfo=UTC
    )
    own = parse_accounts(UK + '[accounts.uk.claims]\nwindow_days = 45\nroute = "safe-t"\n')
    assert own.accounts["uk"].claims == ClaimRule(45, ClaimStart.REFUND, ClaimRoute.SAFE_T)
    assert Accounts.from_dict(own.to_dict()) == own
