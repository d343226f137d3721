"""One nested Settings object, read from ``SWITCHBOARD_*`` environment variables (nested with ``__``).

Built once in ``main()`` or a test, never at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class SlackSettings(BaseModel):
    signing_secret: SecretStr | None = None
    bot_token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    api_url: str = "https://slack.com/api/"
    command: str = Field(default="/ask", pattern=r"^/[a-z0-9_-]{1,31}$")
    user_rate: str = "10/minute"  # questions per user (see core.ratelimit.Rate.parse)
    channel_rate: str = "30/minute"  # questions per channel
    concurrent_answers: int = Field(default=2, ge=1, le=64)  # per process; acks never wait for these


class TeamsSettings(BaseModel):
    app_id: str | None = None
    app_password: SecretStr | None = None
    app_type: Literal["MultiTenant", "SingleTenant", "UserAssignedMSI"] = "MultiTenant"
    tenant_id: str | None = None
    allowed_tenants: list[str] = Field(default_factory=list)
    openid_metadata_url: str | None = None
    token_url: str | None = None  # outbound OAuth token endpoint; default: login.microsoftonline.com
    user_rate: str = "10/minute"  # questions per user (see core.ratelimit.Rate.parse)
    channel_rate: str = "30/minute"  # questions per channel or chat
    concurrent_answers: int = Field(default=4, ge=1, le=64)  # message turns at once, per process


class LLMProvider(BaseModel):
    name: str
    base_url: str
    api_key: SecretStr = SecretStr("")
    model: str
    input_usd_per_mtok: float = Field(default=0.0, ge=0)
    output_usd_per_mtok: float = Field(default=0.0, ge=0)
    timeout_s: float = Field(default=30.0, gt=0, le=600)
    tier: Literal["cheap", "strong"] = "strong"  # short factual questions prefer "cheap" providers
    stream: bool = True


class LLMSettings(BaseModel):
    providers: list[LLMProvider] = Field(default_factory=list)
    short_question_words: int = Field(default=12, ge=0)  # up to this, single-part: the cheap tier
    workspace_tiers: dict[str, Literal["cheap", "strong"]] = Field(default_factory=dict)
    breaker_failures: int = Field(default=3, ge=1)  # consecutive failures that open a provider's breaker
    breaker_cool_down_s: float = Field(default=30.0, gt=0)
    abstain_below: float = Field(default=0.4, ge=0, le=1)
    monthly_budget_usd: float | None = Field(default=None, ge=0)  # per workspace, unless set per workspace


class CacheSettings(BaseModel):
    """``enabled``/``ttl_s``: the query cache (whole answers). ``sentence_vectors_ttl_s``: how long an
    answer sentence's vector, once embedded by one process, serves the others (0: each embeds its own)."""

    enabled: bool = True
    ttl_s: int = Field(default=86400, gt=0)
    sentence_vectors_ttl_s: int = Field(default=3600, ge=0)


class EmbeddingSettings(BaseModel):
    """``minilm`` (offline, the default) or ``openai`` (any OpenAI-compatible embeddings endpoint)."""

    provider: Literal["minilm", "openai"] = "minilm"
    base_url: str | None = None
    api_key: SecretStr = SecretStr("")
    model: str = "text-embedding-3-small"
    dim: int = Field(default=1536, gt=0)
    threads: int | None = Field(default=None, gt=0)
    # onnxruntime threads in the web process when chat answers run in workers and ``threads`` is unset:
    # it then embeds only REST questions, one at a time, each on a search's critical path. Two threads
    # (idle ones sleep, see core.embeddings) took 1.4-7.4 ms off a search's HTTP p95 on 2 cores, for
    # ~1 ms more CPU per search (bench/README.md, search latency).
    web_threads: int | None = Field(default=2, gt=0)


class RetrievalSettings(BaseModel):
    mode: Literal["hybrid", "keyword", "vector"] = "hybrid"
    fusion: Literal["convex", "rrf"] = "convex"
    keyword_weight: float = Field(default=0.4, ge=0)
    vector_weight: float = Field(default=0.6, ge=0)
    # BM25 from a per-process copy of the postings, replayed to the committed state before each search.
    keyword_in_memory: bool = True
    chunk_tokens: int = Field(default=200, ge=32, le=256)
    overlap_tokens: int = Field(default=40, ge=0, le=128)


class IngestSettings(BaseModel):
    max_pdf_pages: int = Field(default=2000, gt=0)
    max_file_mb: int = Field(default=50, gt=0)
    # Uploads: one multipart request, streamed to the spool dir (shared by API and workers when scaled).
    max_request_mb: int = Field(default=500, gt=0)
    max_files: int = Field(default=10_000, gt=0)
    spool_dir: Path | None = None  # default: <data dir>/spool
    # Zip archives: caps on what one archive may expand to.
    max_archive_members: int = Field(default=10_000, gt=0)
    max_archive_mb: int = Field(default=500, gt=0)
    max_zip_ratio: float = Field(default=100.0, gt=1)
    # Parsing runs in killable child processes (worker): wall-clock and address-space caps.
    parse_timeout_s: float = Field(default=60.0, gt=0)
    parse_memory_mb: int = Field(default=1024, ge=256)


class JobSettings(BaseModel):
    timeout_s: int = Field(default=3600, gt=0)
    max_tries: int = Field(default=5, gt=0)
    # A running job's claim expires this long after its worker stops renewing it (a crash), and
    # another worker picks the job up again.
    lease_s: float = Field(default=60.0, ge=1)
    retry_base_s: float = Field(default=2.0, gt=0)
    retry_max_s: float = Field(default=600.0, gt=0)
    max_concurrent: int = Field(default=4, gt=0)


class WorkerSettings(BaseModel):
    """``switchboard worker``: a Prometheus endpoint for its job metrics, and its arq health-check beat."""

    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    health_check_interval_s: int = Field(default=15, gt=0, le=3600)
    # Scheduling priority (``nice`` increment) of the worker process, so the web process (acknowledgements,
    # REST) gets the CPU first on a machine they share. Off by default: on a machine also busy with other
    # work, a niced worker starves (measured: chat answers expired in the queue at load average 25).
    nice: int = Field(default=0, ge=0, le=19)


class ConnectorSettings(BaseModel):
    """Source syncs: outbound URL policy, an extra CA bundle (self-hosted services), request timeout."""

    allow_private_urls: bool = False  # let sources reach private/loopback hosts (intranet, test fakes)
    ca_bundle: Path | None = None  # PEM file trusted for https to sources (a private CA)
    timeout_s: float = Field(default=30.0, gt=0, le=600)


class ApiSettings(BaseModel):
    """REST answers per API process: computed at once, and queued behind them before a 503 (hub.admission)."""

    concurrent_asks: int = Field(default=4, ge=1, le=256)
    queued_asks: int = Field(default=16, ge=0, le=10_000)
    # REST searches' audit rows wait this long in memory, to be written in one transaction (core.audit):
    # a killed process loses at most this much; under load, one commit per 0.1 s cost every search ~2 ms.
    audit_batch_s: float = Field(default=1.0, ge=0.01, le=30)


class OtelSettings(BaseModel):
    """Optional OpenTelemetry tracing: set ``endpoint`` (an OTLP/gRPC collector) to turn it on."""

    endpoint: str | None = None
    service_name: str = "switchboard"
    insecure: bool = True


class PushSettings(BaseModel):
    """Inbound change pushes (webhooks) and the Graph subscriptions behind them."""

    # Notifications for one source within this window collapse into one sync, which starts when it ends.
    debounce_s: float = Field(default=1.0, ge=0.05, le=300)
    replay_ttl_s: int = Field(default=900, ge=600)  # generic pushes: how long a webhook-id is remembered
    public_url: str | None = None  # this server as the outside sees it (Graph's notificationUrl base)
    graph_api_url: str = "https://graph.microsoft.com/v1.0"
    graph_lifetime_minutes: int = Field(default=4200, ge=45, le=42300)  # driveItem maximum: 42300
    graph_renew_before_minutes: int = Field(default=1440, ge=15)
    alerts_per_channel: str = "20/minute"  # change alerts one channel gets at most (core.ratelimit.Rate)


class OutboundWebhookSettings(BaseModel):
    """Outbound webhooks: private, loopback and link-local targets are refused unless allowed here."""

    allow_private_targets: bool = False
    timeout_s: float = Field(default=10.0, gt=0, le=120)


class RateLimitSettings(BaseModel):
    """REST limits (see core.ratelimit.Rate.parse); chat limits live in the slack/teams settings."""

    enabled: bool = True
    api_key: str = "600/minute"  # per API key (a REST user; job-progress polling counts too)
    workspace: str = "3000/minute"  # per workspace, all keys together


class SSOSettings(BaseModel):
    """OpenID Connect with Microsoft Entra ID (msal, auth code + PKCE). Off until ``client_id`` is set.

    ``group_roles`` maps a group id (the id token's ``groups`` claim) to ``owner`` or ``<workspace>:<role>``.
    """

    authority: str = "https://login.microsoftonline.com/organizations"
    client_id: str | None = None
    client_secret: SecretStr = SecretStr("")
    group_roles: dict[str, str] = Field(default_factory=dict)
    ca_bundle: Path | None = None  # extra CA file for the authority's TLS (tests, private clouds)
    label: str = "Sign in with Microsoft"


class AdminSettings(BaseModel):
    """The admin page: session lifetime, login throttling, cookie security."""

    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    login_rate: str = "5/minute"  # sign-in attempts per email
    login_ip_rate: str = "30/minute"  # per client address (many people may share one, behind a proxy)
    secure_cookies: Literal["auto", "always", "never"] = "auto"  # auto: Secure when the request is https


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SWITCHBOARD_", env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    data_dir: Path = Path("./var")
    database_url: str | None = None
    redis_url: str | None = None
    chroma_url: str | None = None
    secret_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    log_level: str = "INFO"
    log_json: bool = False
    # Where Slack and Teams answers are computed after the ack: "worker" (an arq job; needs a Redis,
    # which `serve` always has) keeps the web process free to acknowledge; "web" answers in place.
    chat_answers: Literal["worker", "web"] = "worker"

    slack: SlackSettings = Field(default_factory=SlackSettings)
    teams: TeamsSettings = Field(default_factory=TeamsSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    otel: OtelSettings = Field(default_factory=OtelSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    push: PushSettings = Field(default_factory=PushSettings)
    connectors: ConnectorSettings = Field(default_factory=ConnectorSettings)
    webhooks: OutboundWebhookSettings = Field(default_factory=OutboundWebhookSettings)
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)
    admin: AdminSettings = Field(default_factory=AdminSettings)
    sso: SSOSettings = Field(default_factory=SSOSettings)

    @field_validator("secret_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    @field_validator("database_url", "redis_url", "chroma_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'switchboard.db').resolve()}"

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def spool_path(self) -> Path:
        return self.ingest.spool_dir or self.data_dir / "spool"
