"""The one Settings class: the only reader of the environment (prefix ``RETURNBRIDGE_``);
and where Amazon is, resolved from it (``amazon_hosts``)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from returnbridge.domain.errors import ReturnBridgeError
from returnbridge.domain.schedule import CycleSchedule

AmazonEnvironment = Literal["sandbox", "production"]
AmazonRegion = Literal["eu", "na", "fe"]

# Amazon's production hosts, per selling region (developer-docs.amazon.com/sp-api/docs/
# sp-api-endpoints), and its LWA token URL, the same for every region (.../connect-to-the-sp-api).
SP_API_HOSTS: dict[AmazonRegion, str] = {
    region: f"https://sellingpartnerapi-{region}.amazon.com" for region in get_args(AmazonRegion)
}
LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"
# Amazon's own SP-API sandbox (static and dynamic): an Amazon host that changes nothing real.
AMAZON_SANDBOX_HOSTS = frozenset(
    f"sandbox.sellingpartnerapi-{region}.amazon.com" for region in get_args(AmazonRegion)
)


class Settings(BaseSettings):
    """Configuration, from ``RETURNBRIDGE_*`` environment variables or arguments."""

    model_config = SettingsConfigDict(env_prefix="RETURNBRIDGE_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///returnbridge.db",
        description="SQLAlchemy URL: sqlite:///FILE (embedded default) or postgresql://...",
    )
    batch_size: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="Inbox events claimed per transaction (and up to 4x as many later events"
        " of their returns with them).",
    )
    import_batch_size: int = Field(
        default=1_000, ge=1, le=100_000, description="Imported events stored per transaction."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="WARNING", description="The least severe log lines written."
    )
    log_format: Literal["console", "json"] = Field(
        default="console",
        description="console: a readable line per event; json: one JSON object per line, for a "
        "log collector. Values of secret-looking keys are redacted in both.",
    )

    # ZigZag webhooks (`returnbridge serve`): Standard Webhooks signatures; see
    # docs/zigzag-events.md#webhooks. Without a secret the endpoint answers 503.
    zigzag_webhook_secret: SecretStr = Field(
        default=SecretStr(""),
        description="Space-separated whsec_<base64> secrets; a delivery signed by any passes.",
    )
    webhook_tolerance_seconds: int = Field(
        default=300,
        ge=1,
        le=86_400,
        description="How far a delivery's webhook-timestamp may be from the server's clock.",
    )
    webhook_max_bytes: int = Field(
        default=1_000_000,
        ge=1_024,
        le=100_000_000,
        description="Largest webhook body accepted; a larger one is refused with 413.",
    )

    # Amazon Vendor Central (SP-API). Production is chosen, never the default: without
    # RETURNBRIDGE_AMAZON_ENVIRONMENT=production, the endpoint and LWA URL must be pointed at a
    # sandbox (`returnbridge sandbox amazon` prints them), and Amazon's production hosts are
    # refused (``amazon_hosts``). Credentials come from the environment only.
    amazon_environment: AmazonEnvironment = Field(
        default="sandbox",
        description="sandbox: Amazon is only where RETURNBRIDGE_AMAZON_ENDPOINT points, and "
        "Amazon's production hosts are refused; production: the real Amazon, at the region's "
        "host unless RETURNBRIDGE_AMAZON_ENDPOINT says otherwise.",
    )
    amazon_region: AmazonRegion = Field(
        default="eu",
        description="Amazon selling region; in production it picks the SP-API host: "
        "sellingpartnerapi-eu.amazon.com, sellingpartnerapi-na.amazon.com or "
        "sellingpartnerapi-fe.amazon.com.",
    )
    amazon_endpoint: str = Field(
        default="",
        description="SP-API base URL; set, it wins over the region. Empty: the region's host in "
        "production; in sandbox it must be set (a stand-in's URL or Amazon's sandbox host).",
    )
    amazon_lwa_url: str = Field(
        default="",
        description="LWA token URL. Empty: Amazon's (https://api.amazon.com/auth/o2/token) in "
        "production or with Amazon's own sandbox host; a stand-in needs its own.",
    )
    amazon_client_id: str = Field(default="", description="LWA client id of the application.")
    amazon_client_secret: SecretStr = Field(default=SecretStr(""), description="LWA secret.")
    amazon_refresh_token: SecretStr = Field(
        default=SecretStr(""), description="The vendor's LWA refresh token."
    )
    amazon_selling_party: str = Field(default="", description="Vendor code (sellingParty).")
    amazon_remit_to_party: str = Field(default="", description="Vendor code paid (remitTo).")
    amazon_items_per_call: int = Field(
        default=500,
        ge=1,
        le=10_000,
        description="Items per submitInventoryUpdate call (the model sets no limit; ours).",
    )
    amazon_invoices_per_call: int = Field(
        default=100,
        ge=1,
        le=1_000,
        description="Credit notes per submitInvoices call (the model sets no limit; ours).",
    )
    amazon_credit_note_prefix: str = Field(
        default="RBCN",
        pattern=r"^[A-Z0-9]{1,10}$",
        description="Starts every credit-note number we issue (numbers are ours alone).",
    )
    amazon_cycle_schedule: str = Field(
        default="daily 02:00",
        description="Clearing-cycle cut-offs in UTC: 'daily 02:00', '02:00,14:00', 'every 15m'.",
    )
    amazon_throttle_alert_share: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="Alert AMAZON_THROTTLED when a larger share of a cycle's requests got 429.",
    )
    rfs_window_days: int = Field(
        default=14,
        ge=1,
        le=365,
        description="Days after a refund at first scan before RFS_NOT_RECEIVED is raised.",
    )
    amazon_stuck_after_hours: float = Field(
        default=24.0, gt=0, description="A transaction Processing longer is AMAZON_STUCK."
    )

    @field_validator("amazon_cycle_schedule")
    @classmethod
    def _readable_schedule(cls, value: str) -> str:
        CycleSchedule.parse(value)  # raises ScheduleError (a ValueError) with what was expected
        return value

    # ZigZag API (polling): `returnbridge poll zigzag`; see docs/zigzag-feeds.md. Point the URL
    # at `returnbridge sandbox zigzag` to run against the stand-in.
    zigzag_api_url: str = Field(
        default="", description="ZigZag API base URL (POST /token, GET /events are under it)."
    )
    zigzag_api_username: str = Field(default="", description="ZigZag API username.")
    zigzag_api_password: SecretStr = Field(
        default=SecretStr(""), description="ZigZag API password (exchanged for a 30-minute JWT)."
    )
    zigzag_poll_page_size: int = Field(
        default=500, ge=1, le=10_000, description="Events asked for per page of the feed."
    )

    # ERP delivery: `returnbridge export erp`; see docs/erp-export.md. Without a URL the journals
    # are exported as files only.
    erp_endpoint_url: str = Field(
        default="", description="URL the journal batches are POSTed to (empty: files only)."
    )
    erp_api_token: SecretStr = Field(
        default=SecretStr(""), description="Bearer token for the ERP endpoint (if it wants one)."
    )
    erp_retry_attempts: int = Field(
        default=6, ge=1, le=20, description="Tries per batch on 5xx, 429 or a lost connection."
    )
    erp_timeout_seconds: float = Field(
        default=30.0, gt=0, le=600, description="How long one POST to the ERP may take."
    )

    # Alerts (docs/operations.md#alerts-and-dashboards): evaluated by `returnbridge alerts check`
    # (and on an interval by the service), stored, and sent to a Slack-compatible webhook.
    alert_inbox_depth_limit: int = Field(
        default=5_000, ge=0, description="QUEUE_DEPTH fires when more inbox events are pending."
    )
    alert_inbox_age_seconds: int = Field(
        default=900,
        ge=0,
        description="QUEUE_AGE fires when the oldest pending inbox event is older (seconds).",
    )
    alert_outbox_depth_limit: int = Field(
        default=10_000,
        ge=0,
        description="QUEUE_DEPTH fires when more outbox messages of one topic are pending.",
    )
    alert_outbox_age_seconds: int = Field(
        default=172_800,
        ge=0,
        description="QUEUE_AGE fires when a topic's oldest pending outbox message is older.",
    )
    alert_rejection_rate: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="AMAZON_REJECTION_RATE fires when a larger share of the changes Amazon "
        "answered within the window was rejected.",
    )
    alert_rejection_window_hours: int = Field(
        default=24, ge=1, le=24 * 31, description="The window the rejection rate is counted over."
    )
    alert_pending_credit_days: int = Field(
        default=30,
        ge=0,
        description="CREDIT_PENDING_AGED fires for credit pending longer (days since the goods "
        "came back).",
    )
    alert_sync_grace_seconds: int = Field(
        default=3_600,
        ge=0,
        description="SYNC_LAG fires when a change for Amazon waits longer than the longest gap "
        "between cut-offs of RETURNBRIDGE_AMAZON_CYCLE_SCHEDULE plus this grace.",
    )
    alert_unreachable_seconds: int = Field(
        default=900,
        ge=0,
        description="PARTNER_UNREACHABLE fires for Amazon requests prepared and still unsent "
        "after this long.",
    )
    alert_webhook_url: SecretStr = Field(
        default=SecretStr(""),
        description="Slack-compatible incoming webhook alerts are posted to (empty: log only). "
        "A secret: whoever has it can post to the channel.",
    )
    alert_webhook_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60, description="How long one POST to the alert webhook may take."
    )
    alert_runbook_url: str = Field(
        default="",
        description="Web address of docs/operations.md (e.g. its page in the repository's web "
        "view); alert messages link to its sections. Empty: the runbook path is given as text.",
    )
    alert_evaluate_seconds: float = Field(
        default=60.0, gt=0, le=3_600, description="How often the service evaluates the alerts."
    )

    # Backpressure on ZigZag's webhooks (docs/operations.md#inbox_full): past this many pending
    # inbox events, `POST /webhooks/zigzag` refuses deliveries (500 inbox_full, Retry-After).
    inbox_hard_limit: int = Field(
        default=1_000_000,
        ge=1,
        description="Webhook deliveries are refused (500 inbox_full, nothing stored, the sender "
        "retries) while this many inbox events or more are pending; keep it well above "
        "RETURNBRIDGE_ALERT_INBOX_DEPTH_LIMIT, so QUEUE_DEPTH warns first.",
    )
    inbox_retry_after_seconds: int = Field(
        default=30,
        ge=1,
        le=86_400,
        description="The Retry-After (seconds) of an inbox_full refusal.",
    )


class ConfigurationMissing(ReturnBridgeError):
    """A setting the command needs is not set."""

    code = "config.missing"


class SettingsInvalid(ReturnBridgeError):
    """A RETURNBRIDGE_* variable holds a value its setting cannot take."""

    code = "config.invalid"


class AmazonNotLocated(ConfigurationMissing):
    """The settings do not say where Amazon is (no endpoint outside production, or a stand-in
    without its LWA URL); ``needs`` is what to set, as ``App.amazon_missing`` lists it."""

    def __init__(self, message: str, needs: str) -> None:
        super().__init__(message)
        self.needs = needs


class ProductionNotChosen(AmazonNotLocated):
    """RETURNBRIDGE_AMAZON_ENDPOINT is one of Amazon's real hosts while the environment is not
    production: a test set-up must not reach Amazon by mistake."""

    code = "config.production_not_chosen"


@dataclass(frozen=True)
class AmazonHosts:
    """Where the SP-API connector sends its calls and asks for its access tokens."""

    endpoint: str
    lwa_url: str


def amazon_hosts(settings: Settings) -> AmazonHosts:
    """Amazon's SP-API endpoint and LWA token URL as the settings have them.

    An explicit endpoint wins, but one on a real Amazon host (``*.amazon.com`` other than
    Amazon's own sandbox) is refused unless the environment is production. Without one,
    production means the region's host and sandbox is refused: the stand-in's URL is needed.
    An empty LWA URL means Amazon's when the calls go to Amazon (production, or Amazon's own
    sandbox), and is refused for anything else.
    """
    endpoint, lwa_url = settings.amazon_endpoint.strip(), settings.amazon_lwa_url.strip()
    environment = settings.amazon_environment
    production = environment == "production"
    if not endpoint:
        if not production:
            raise AmazonNotLocated(
                f"RETURNBRIDGE_AMAZON_ENDPOINT is not set and RETURNBRIDGE_AMAZON_ENVIRONMENT is "
                f"{environment}: point RETURNBRIDGE_AMAZON_ENDPOINT and "
                "RETURNBRIDGE_AMAZON_LWA_URL at the sandbox (`returnbridge sandbox amazon` "
                "prints them), or set RETURNBRIDGE_AMAZON_ENVIRONMENT=production to talk to "
                f"Amazon itself ({SP_API_HOSTS[settings.amazon_region]})",
                needs="RETURNBRIDGE_AMAZON_ENDPOINT and RETURNBRIDGE_AMAZON_LWA_URL to a "
                "sandbox's, or RETURNBRIDGE_AMAZON_ENVIRONMENT=production",
            )
        endpoint = SP_API_HOSTS[settings.amazon_region]
    host = _host(endpoint)
    on_amazon = host == "amazon.com" or host.endswith(".amazon.com")
    if on_amazon and host not in AMAZON_SANDBOX_HOSTS and not production:
        raise ProductionNotChosen(
            f"RETURNBRIDGE_AMAZON_ENDPOINT points at the real Amazon ({host}) but "
            f"RETURNBRIDGE_AMAZON_ENVIRONMENT is {environment}: set "
            "RETURNBRIDGE_AMAZON_ENVIRONMENT=production to talk to the real Amazon, or point "
            "RETURNBRIDGE_AMAZON_ENDPOINT at a sandbox (`returnbridge sandbox amazon`)",
            needs="RETURNBRIDGE_AMAZON_ENVIRONMENT=production, as RETURNBRIDGE_AMAZON_ENDPOINT "
            "points at the real Amazon",
        )
    if not lwa_url:
        if not (production or on_amazon):
            raise AmazonNotLocated(
                "RETURNBRIDGE_AMAZON_LWA_URL is not set: point it at the token URL of the "
                "sandbox RETURNBRIDGE_AMAZON_ENDPOINT names (`returnbridge sandbox amazon` "
                "prints it)",
                needs="RETURNBRIDGE_AMAZON_LWA_URL to the sandbox's token URL",
            )
        lwa_url = LWA_TOKEN_URL
    return AmazonHosts(endpoint, lwa_url)


def _host(url: str) -> str:
    """The host name of ``url`` in lower case, without port or final dot; a URL written
    without a scheme counts too."""
    try:
        host = urlsplit(url if "://" in url else f"//{url}").hostname
    except ValueError:  # unreadable (a broken IPv6 literal): the connector will say so
        return ""
    return (host or "").rstrip(".")


def unset_variables(names: Iterable[str]) -> list[str]:
    """Which of the environment variables ``names`` are not set or empty (an account's
    credentials live in variables it names; only the names leave this function)."""
    return [name for name in names if not os.environ.get(name)]
