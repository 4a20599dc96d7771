"""The one Settings class: the only reader of the environment (prefix ``RETURNBRIDGE_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from returnbridge.domain.schedule import CycleSchedule


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
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    log_format: Literal["console", "json"] = "console"

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

    # Amazon Vendor Central (SP-API). Point the endpoint and LWA URL at `returnbridge sandbox
    # amazon` to run against the stand-in; credentials come from the environment only.
    amazon_endpoint: str = Field(
        default="https://sellingpartnerapi-eu.amazon.com",
        description="SP-API base URL (regional endpoint, or the sandbox's URL).",
    )
    amazon_lwa_url: str = Field(
        default="https://api.amazon.com/auth/o2/token", description="LWA token endpoint."
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
