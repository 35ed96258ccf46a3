"""Every setting Pixie reads, in one place (environment variables and a `.env` file)."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(Exception):
    """A setting (or what it points at) Pixie cannot use; the message is one line that names it."""


def _default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("pixie"))


class Settings(BaseSettings):
    """Pixie's settings. Each field documents itself; `.env.example` lists them all."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(default_factory=_default_data_dir, alias="PIXIE_DATA_DIR",
                           description="Where Pixie keeps its embedded Postgres, Redis and files.")
    database_url: str | None = Field(default=None, alias="PIXIE_DATABASE_URL",
                                     description="An external Postgres (with pgvector); else the embedded one.")
    redis_url: str | None = Field(default=None, alias="PIXIE_REDIS_URL",
                                  description="An external Redis for the job queue; else an embedded one.")
    llm: Literal["auto", "anthropic", "openai", "offline"] = Field(
        default="auto", alias="PIXIE_LLM", description="Which brain thinks: a provider, or the offline rules.")
    embeddings: Literal["auto", "local", "openai", "hash"] = Field(
        default="auto", alias="PIXIE_EMBEDDINGS",
        description="How memory is embedded: auto = the bundled local model if installed, else hash.")
    embeddings_model: str = Field(default="text-embedding-3-small", alias="PIXIE_EMBEDDINGS_MODEL",
                                  description="Model name for PIXIE_EMBEDDINGS=openai (e.g. nomic-embed-text).")
    embeddings_dimensions: int | None = Field(
        default=None, alias="PIXIE_EMBEDDINGS_DIMENSIONS", ge=1, le=4096,
        description="Ask the openai endpoint for vectors of this size (only models that support it).")
    embeddings_base_url: str | None = Field(
        default=None, alias="PIXIE_EMBEDDINGS_BASE_URL",
        description="OpenAI-compatible endpoint for embeddings (Ollama, vLLM…); default OPENAI_BASE_URL.")
    secret_key: str | None = Field(default=None, alias="PIXIE_SECRET_KEY",
                                   description="Encrypts OAuth tokens and mailbox passwords at rest: 32+ random "
                                               "characters or Fernet keys, comma-separated to rotate; unset: "
                                               "a key file made in PIXIE_DATA_DIR (core/vault.py).")
    owners: str = Field(default="", alias="PIXIE_OWNERS",
                        description="Admitted from the start: comma-separated platform:user_id.")
    digest_time: str = Field(default="07:30", alias="PIXIE_DIGEST_TIME",
                             description="Default local time of the daily digest (HH:MM).")
    imap_url: str | None = Field(default=None, alias="PIXIE_IMAP_URL",
                                 description="The mailbox users forward mail to: imaps://user:password@host:993/INBOX "
                                             "(imap:// only for a server on this machine; ?address=… when the "
                                             "login is not the mail address; imap://…?starttls=1 for STARTTLS).")
    imap_ca_file: str | None = Field(default=None, alias="PIXIE_IMAP_CA_FILE",
                                     description="A PEM file of certificates to trust for the mailbox's TLS "
                                                 "instead of the system's (a self-signed server, a private CA).")
    mail_authserv_id: str | None = Field(default=None, alias="PIXIE_MAIL_AUTHSERV_ID",
                                         description="The receiving mail server's authserv-id: the only "
                                                     "Authentication-Results header trusted.")

    anthropic_api_key: str | None = Field(default=None, alias="ANTHROPIC_API_KEY")
    openai_api_key: str | None = Field(default=None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL",
                                        description="OpenAI-compatible server (Ollama, vLLM, LM Studio), a proxy.")
    anthropic_base_url: str | None = Field(default=None, alias="ANTHROPIC_BASE_URL",
                                           description="Send Anthropic calls elsewhere (a proxy, a test server).")
    # Models: short simple requests go to the fast one, several steps and memory questions to the strong one.
    anthropic_fast_model: str = Field(default="claude-haiku-4-5", alias="PIXIE_ANTHROPIC_FAST_MODEL")
    anthropic_strong_model: str = Field(default="claude-sonnet-4-6", alias="PIXIE_ANTHROPIC_STRONG_MODEL")
    openai_fast_model: str = Field(default="gpt-4.1-mini", alias="PIXIE_OPENAI_FAST_MODEL")
    openai_strong_model: str = Field(default="gpt-4.1", alias="PIXIE_OPENAI_STRONG_MODEL")
    llm_budget: float = Field(default=20.0, gt=0, alias="PIXIE_LLM_BUDGET",
                              description="Seconds a turn may spend on models (retries, other provider) "
                                          "before the offline rules answer.")
    llm_timeout: float = Field(default=15.0, gt=0, alias="PIXIE_LLM_TIMEOUT",
                               description="Seconds one model call may take.")
    llm_prices: str | None = Field(default=None, alias="PIXIE_LLM_PRICES",
                                   description='Extra prices, USD per million tokens: '
                                               '{"model": [input, output, cache_read, cache_write]}.')
    slack_bot_token: str | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_app_token: str | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_signing_secret: str | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    telegram_bot_token: str | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_base_url: str | None = Field(default=None, alias="TELEGRAM_BASE_URL")
    discord_bot_token: str | None = Field(default=None, alias="DISCORD_BOT_TOKEN")
    # Chat platforms: Slack uses Socket Mode unless SLACK_SIGNING_SECRET and SLACK_HTTP_PORT are set
    # (then HTTP Events at http://host:port/slack/events); Telegram long-polls unless a webhook URL is set.
    slack_api_url: str | None = Field(default=None, alias="SLACK_API_URL",
                                      description="Slack Web API base (GovSlack, a proxy); default https://slack.com/api/.")
    slack_http_port: int | None = Field(default=None, alias="SLACK_HTTP_PORT",
                                        description="Serve Slack's HTTP Events API on this port.")
    telegram_webhook_url: str | None = Field(default=None, alias="TELEGRAM_WEBHOOK_URL",
                                             description="Public https URL Telegram posts updates to.")
    telegram_webhook_secret: str | None = Field(default=None, alias="TELEGRAM_WEBHOOK_SECRET",
                                                description="Secret token Telegram must send with each update.")
    telegram_webhook_port: int = Field(default=8443, alias="TELEGRAM_WEBHOOK_PORT",
                                       description="Local port the Telegram webhook listens on.")
    listen_host: str = Field(default="0.0.0.0", alias="PIXIE_LISTEN_HOST",
                             description="Address the Slack and Telegram webhook servers bind to.")
    discord_guild_id: str | None = Field(default=None, alias="DISCORD_GUILD_ID",
                                         description="Register slash commands in this server only (instant).")
    # Google Calendar (connectors/google/): an OAuth client of type "Desktop app" of your own Cloud project.
    google_client_id: str | None = Field(default=None, alias="GOOGLE_CLIENT_ID",
                                         description="OAuth client id for Google Calendar.")
    google_client_secret: str | None = Field(default=None, alias="GOOGLE_CLIENT_SECRET",
                                             description="OAuth client secret for Google Calendar.")
    google_api_url: str = Field(default="https://www.googleapis.com/calendar/v3/", alias="PIXIE_GOOGLE_API_URL",
                                description="Google Calendar API base (a proxy, a test fake); keeps /calendar/v3/.")
    google_token_url: str = Field(default="https://oauth2.googleapis.com/token", alias="PIXIE_GOOGLE_TOKEN_URL",
                                  description="Google's OAuth token endpoint (refresh and code exchange).")

    @field_validator("digest_time")
    @classmethod
    def _clock_time(cls, v: str) -> str:
        m = re.fullmatch(r"(\d{1,2}):(\d{2})", v.strip())
        if not m or int(m[1]) > 23 or int(m[2]) > 59:
            raise ValueError(f"{v!r} is not a time of day; use HH:MM, like 07:30")
        return f"{int(m[1]):02d}:{m[2]}"

    @field_validator("data_dir")
    @classmethod
    def _a_folder(cls, v: Path) -> Path:
        try:
            if v.exists() and not v.is_dir():
                raise ValueError(f"{str(v)[:200]!r} is a file, not a folder")
        except OSError as exc:  # a name too long, a folder we may not look into
            raise ValueError(f"{str(v)[:200]!r} cannot be used: {exc.strerror or exc}") from None
        return v


def load_settings(**values: object) -> Settings:
    """Settings from the environment and `.env` (and `values`); ConfigError naming what is wrong."""
    try:
        return Settings(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        said = []
        for error in exc.errors():  # pydantic's messages name the problem, never the value (a key stays hidden)
            name = ".".join(str(p) for p in error.get("loc", ())) or "a setting"
            said.append(f"{name}: {str(error.get('msg', 'invalid')).removeprefix('Value error, ')}")
        raise ConfigError("; ".join(said) + ".") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f".env: not UTF-8 text (byte {exc.start} cannot be read); "
                          "save it as UTF-8 with one NAME=value per line.") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once; ConfigError when one cannot be used."""
    return load_settings()
