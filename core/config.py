"""Every setting Pixie reads, in one place (environment variables and a `.env` file)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
        default="auto", alias="PIXIE_EMBEDDINGS", description="How memory is embedded.")
    secret_key: str | None = Field(default=None, alias="PIXIE_SECRET_KEY",
                                   description="Encrypts OAuth tokens and mailbox passwords at rest.")
    owners: str = Field(default="", alias="PIXIE_OWNERS",
                        description="Admitted from the start: comma-separated platform:user_id.")
    digest_time: str = Field(default="07:30", alias="PIXIE_DIGEST_TIME",
                             description="Default local time of the daily digest (HH:MM).")

    anthropic_api_key: str | None = Field(default=None, alias="ANTHROPIC_API_KEY")
    openai_api_key: str | None = Field(default=None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")
    slack_bot_token: str | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_app_token: str | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_signing_secret: str | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    telegram_bot_token: str | None = Field(default=None, alias="TELEGRAM_BOT_TOKEN")
    telegram_base_url: str | None = Field(default=None, alias="TELEGRAM_BASE_URL")
    discord_bot_token: str | None = Field(default=None, alias="DISCORD_BOT_TOKEN")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
