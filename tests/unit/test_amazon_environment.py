"""Production is chosen, never the default: where Amazon is, resolved from the settings
(``config.amazon_hosts``), and what the app does when the settings do not say."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from returnbridge.bootstrap import App, bootstrap
from returnbridge.config import (
    LWA_TOKEN_URL,
    AmazonHosts,
    AmazonNotLocated,
    ConfigurationMissing,
    ProductionNotChosen,
    Settings,
    amazon_hosts,
)
from returnbridge.domain.errors import ReturnBridgeError
from returnbridge.entrypoints.service import LoopOptions, plan_loops

STAND_IN = "http://127.0.0.1:8500"
STAND_IN_LWA = "http://127.0.0.1:8500/auth/o2/token"
CREDENTIALS = {
    "amazon_client_id": "amzn1.application-oa2-client.test",
    "amazon_client_secret": "test-client-secret",
    "amazon_refresh_token": "Atzr|test-refresh-token",
    "amazon_selling_party": "CASTORE",
}
ONLY_CYCLES = LoopOptions(worker=False, rfs_sweep=False, cycles=True, erp=False, alerts=False)


def refusal(**settings: Any) -> AmazonNotLocated:
    with pytest.raises(AmazonNotLocated) as raised:
        amazon_hosts(Settings(**settings))
    return raised.value


@pytest.fixture
def app_with(tmp_path: Path) -> Iterator[Any]:
    apps: list[App] = []

    def make(**settings: Any) -> App:
        rb = bootstrap(Settings(database_url=f"sqlite:///{tmp_path / 'rb.db'}", **settings))
        apps.append(rb)
        return rb

    yield make
    for rb in apps:
        rb.close()


def test_sandbox_is_the_default_environment_and_no_endpoint_is_set() -> None:
    settings = Settings()
    assert settings.amazon_environment == "sandbox"
    assert settings.amazon_region == "eu"
    assert settings.amazon_endpoint == settings.amazon_lwa_url == ""


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("eu", "https://sellingpartnerapi-eu.amazon.com"),
        ("na", "https://sellingpartnerapi-na.amazon.com"),
        ("fe", "https://sellingpartnerapi-fe.amazon.com"),
    ],
)
def test_production_without_an_endpoint_uses_the_regions_host_and_amazons_lwa_url(
    region: str, host: str
) -> None:
    settings = Settings(amazon_environment="production", amazon_region=region)
    assert amazon_hosts(settings) == AmazonHosts(host, "https://api.amazon.com/auth/o2/token")


def test_an_explicit_endpoint_and_lwa_url_win_over_the_region_in_production() -> None:
    settings = Settings(
        amazon_environment="production",
        amazon_region="na",
        amazon_endpoint="https://sellingpartnerapi-eu.amazon.com",
        amazon_lwa_url=STAND_IN_LWA,
    )
    assert amazon_hosts(settings) == AmazonHosts(
        "https://sellingpartnerapi-eu.amazon.com", STAND_IN_LWA
    )


def test_a_stand_in_with_its_lwa_url_is_used_as_given_in_sandbox() -> None:
    settings = Settings(amazon_endpoint=STAND_IN, amazon_lwa_url=STAND_IN_LWA)
    assert amazon_hosts(settings) == AmazonHosts(STAND_IN, STAND_IN_LWA)


def test_the_sandbox_env_variables_resolve_to_the_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETURNBRIDGE_AMAZON_ENDPOINT", STAND_IN)
    monkeypatch.setenv("RETURNBRIDGE_AMAZON_LWA_URL", STAND_IN_LWA)
    assert amazon_hosts(Settings()) == AmazonHosts(STAND_IN, STAND_IN_LWA)


def test_sandbox_without_an_endpoint_is_refused_naming_the_sandbox_and_production() -> None:
    error = refusal()
    assert type(error).code == "config.missing"
    assert isinstance(error, ConfigurationMissing) and isinstance(error, ReturnBridgeError)
    for named in (
        "RETURNBRIDGE_AMAZON_ENDPOINT",
        "RETURNBRIDGE_AMAZON_LWA_URL",
        "`returnbridge sandbox amazon`",
        "RETURNBRIDGE_AMAZON_ENVIRONMENT=production",
    ):
        assert named in error.message


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://sellingpartnerapi-eu.amazon.com",
        "https://sellingpartnerapi-na.amazon.com/",
        "https://SellingPartnerAPI-FE.Amazon.COM:443/",
        "https://sellingpartnerapi-eu.amazon.com./",
        "sellingpartnerapi-eu.amazon.com",
        "https://api.amazon.com",
    ],
)
def test_an_endpoint_on_a_real_amazon_host_is_refused_unless_production_is_chosen(
    endpoint: str,
) -> None:
    error = refusal(amazon_endpoint=endpoint, amazon_lwa_url=STAND_IN_LWA)
    assert isinstance(error, ProductionNotChosen)
    assert error.code == "config.production_not_chosen"
    assert "RETURNBRIDGE_AMAZON_ENVIRONMENT" in error.message
    production = Settings(amazon_endpoint=endpoint, amazon_environment="production")
    assert amazon_hosts(production).endpoint == endpoint


@pytest.mark.parametrize(
    "endpoint", ["https://amazon.com.example.test", "https://notamazon.com", STAND_IN]
)
def test_a_host_that_only_looks_like_amazons_is_a_stand_in(endpoint: str) -> None:
    settings = Settings(amazon_endpoint=endpoint, amazon_lwa_url=STAND_IN_LWA)
    assert amazon_hosts(settings).endpoint == endpoint


@pytest.mark.parametrize("region", ["eu", "na", "fe"])
def test_amazons_own_sandbox_is_allowed_in_sandbox_with_amazons_lwa_url(region: str) -> None:
    endpoint = f"https://sandbox.sellingpartnerapi-{region}.amazon.com"
    assert amazon_hosts(Settings(amazon_endpoint=endpoint)) == AmazonHosts(endpoint, LWA_TOKEN_URL)


def test_a_stand_in_without_its_lwa_url_is_refused_in_sandbox() -> None:
    error = refusal(amazon_endpoint=STAND_IN)
    assert error.code == "config.missing"
    assert "RETURNBRIDGE_AMAZON_LWA_URL" in error.message


def test_the_refusals_never_repeat_the_endpoint_url_only_its_host() -> None:
    error = refusal(amazon_endpoint="https://user:pw@sellingpartnerapi-eu.amazon.com/x?k=s3cret")
    assert "sellingpartnerapi-eu.amazon.com" in error.message
    assert "pw" not in error.message and "s3cret" not in error.message


def test_the_app_counts_an_unresolvable_endpoint_as_missing_amazon_settings(app_with: Any) -> None:
    stand_in = app_with(**CREDENTIALS, amazon_endpoint=STAND_IN, amazon_lwa_url=STAND_IN_LWA)
    assert stand_in.amazon_missing() == []
    missing = app_with(**CREDENTIALS).amazon_missing()
    assert len(missing) == 1 and "RETURNBRIDGE_AMAZON_ENVIRONMENT=production" in missing[0]
    real = app_with(**CREDENTIALS, amazon_endpoint="https://sellingpartnerapi-eu.amazon.com")
    assert "RETURNBRIDGE_AMAZON_ENVIRONMENT=production" in real.amazon_missing()[0]
    unset = app_with().amazon_missing()
    assert unset[:4] == [
        "RETURNBRIDGE_AMAZON_CLIENT_ID",
        "RETURNBRIDGE_AMAZON_CLIENT_SECRET",
        "RETURNBRIDGE_AMAZON_REFRESH_TOKEN",
        "RETURNBRIDGE_AMAZON_SELLING_PARTY",
    ]
    assert len(unset) == 5


def test_the_app_refuses_to_build_the_connector_for_amazons_host_outside_production(
    app_with: Any,
) -> None:
    rb = app_with(**CREDENTIALS, amazon_endpoint="https://sellingpartnerapi-eu.amazon.com")
    with pytest.raises(ProductionNotChosen, match="RETURNBRIDGE_AMAZON_ENVIRONMENT"):
        rb.amazon_vendor()
    with pytest.raises(AmazonNotLocated, match="returnbridge sandbox amazon"):
        app_with(**CREDENTIALS).amazon_vendor()


def test_missing_credentials_are_named_before_the_endpoint(app_with: Any) -> None:
    with pytest.raises(ConfigurationMissing) as raised:
        app_with().amazon_vendor()
    assert type(raised.value) is ConfigurationMissing
    assert "RETURNBRIDGE_AMAZON_CLIENT_ID" in raised.value.message
    assert "RETURNBRIDGE_AMAZON_ENVIRONMENT=production" in raised.value.message


def test_the_app_builds_the_connector_for_the_resolved_hosts(app_with: Any) -> None:
    production = app_with(**CREDENTIALS, amazon_environment="production", amazon_region="fe")
    vendor = production.amazon_vendor()
    try:
        assert vendor.config.endpoint == "https://sellingpartnerapi-fe.amazon.com"
        assert vendor.config.lwa_url == LWA_TOKEN_URL
    finally:
        vendor.close()
    stand_in = app_with(**CREDENTIALS, amazon_endpoint=STAND_IN, amazon_lwa_url=STAND_IN_LWA)
    vendor = stand_in.amazon_vendor()
    try:
        assert (vendor.config.endpoint, vendor.config.lwa_url) == (STAND_IN, STAND_IN_LWA)
    finally:
        vendor.close()


def test_the_service_says_its_cycles_are_off_while_the_environment_is_not_resolvable(
    app_with: Any,
) -> None:
    plan = plan_loops(app_with(**CREDENTIALS), ONLY_CYCLES)
    assert plan.loops == ()
    assert plan.off[0].startswith("clearing cycles: off, Amazon is not configured")
    assert "RETURNBRIDGE_AMAZON_ENVIRONMENT=production" in plan.off[0]
    assert "RETURNBRIDGE_AMAZON_ENDPOINT" in plan.off[0]
    real = app_with(**CREDENTIALS, amazon_endpoint="https://sellingpartnerapi-eu.amazon.com")
    assert "points at the real Amazon" in plan_loops(real, ONLY_CYCLES).off[0]
    production = app_with(**CREDENTIALS, amazon_environment="production")
    assert [loop.name for loop in plan_loops(production, ONLY_CYCLES).loops] == ["cycles"]
