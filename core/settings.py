"""The service's configuration: one Settings object read once at start-up."""
from __future__ import annotations

import ipaddress
import sys
from functools import cached_property
from typing import Annotated, Literal

from limits import RateLimitItem, parse
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _split(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every variable of the contract's Configuration table."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    database_url: str | None = None
    db_pool_min_size: int = Field(2, ge=0, le=1000)
    db_pool_max_size: int = Field(10, ge=1, le=1000)
    db_pool_timeout: float = Field(5.0, gt=0, le=300)
    db_statement_timeout: float = Field(5.0, ge=0, le=3600)
    db_lock_timeout: float = Field(2.0, ge=0, le=3600)
    db_client_timeout: float = Field(7.0, ge=0, le=3600)
    db_pooler: Literal["none", "transaction"] = "none"
    migrate_on_start: bool = True
    data_dir: str = ".data"

    api_keys: Annotated[list[str], NoDecode] = []
    cors_origins: Annotated[list[str], NoDecode] = []

    rate_limit_storage_url: str = "memory://"
    rate_limit_strategy: Literal["sliding-window-counter", "fixed-window", "moving-window"] = (
        "sliding-window-counter"
    )
    rate_limit_default: str = "600/minute"
    search_rate_limit: str = "10/minute"
    rate_limit_enabled: bool = True
    rate_limit_storage_timeout: float = Field(0.5, gt=0, le=5)
    trusted_proxies: Annotated[list[Network], NoDecode] = []

    max_body_bytes: int = Field(1_048_576, ge=1)
    max_header_bytes: int = Field(32_768, ge=1024, le=1_048_576)
    log_format: Literal["console", "json"] | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    external_allow_private: bool = False
    external_fetch_timeout: float = Field(20.0, gt=0, le=600)

    _split_lists = field_validator("api_keys", "cors_origins", "trusted_proxies", mode="before")(
        classmethod(lambda cls, v: _split(v))
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("cors_origins")
    @classmethod
    def _exact_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if origin == "*" or not origin.startswith(("http://", "https://")):
                raise ValueError(f"{origin!r} is not an exact http(s) origin ('*' is refused)")
        return [origin.rstrip("/") for origin in origins]

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        if isinstance(value, list):
            return [ipaddress.ip_network(str(v), strict=False) for v in value]
        return value

    @field_validator("rate_limit_default", "search_rate_limit")
    @classmethod
    def _limit(cls, value: str) -> str:
        parse(value)  # raises ValueError with the offending string
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return value or None

    @field_validator("rate_limit_storage_url")
    @classmethod
    def _storage(cls, value: str) -> str:
        if not value.startswith(("memory://", "redis://", "rediss://", "redis+unix://")):
            raise ValueError("must be memory:// or a redis:// URL")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.db_pool_min_size > self.db_pool_max_size:
            raise ValueError("DB_POOL_MIN_SIZE must not exceed DB_POOL_MAX_SIZE")
        if self.db_client_timeout and self.db_client_timeout <= self.db_statement_timeout:
            # The server's own cancellation must come first: it keeps the connection usable.
            raise ValueError("DB_CLIENT_TIMEOUT must exceed DB_STATEMENT_TIMEOUT (or be 0)")
        if self.rate_limit_strategy == "moving-window" and self.rate_limit_storage_url.startswith(
            "memory://"
        ):
            # limits' in-process storage keeps an entry for every client it ever counted under
            # this strategy (its sweep empties them but never drops them): memory a crowd decides.
            raise ValueError(
                "RATE_LIMIT_STRATEGY=moving-window needs a redis:// RATE_LIMIT_STORAGE_URL"
            )
        if self.db_pooler == "transaction" and self.migrate_on_start:
            # Migrations hold a session advisory lock, which a transaction pooler cannot keep.
            raise ValueError(
                "DB_POOLER=transaction needs MIGRATE_ON_START=false: run `make migrate` "
                "with DATABASE_URL pointing at PostgreSQL itself"
            )
        return self

    @cached_property
    def default_limit(self) -> RateLimitItem:
        return parse(self.rate_limit_default)


def load_settings(**overrides: object) -> Settings:
    """Read the environment; a bad value ends the process with one line naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        if not error["loc"]:  # a rule across variables: its message starts with their names
            sys.exit(f"configuration error: {error['msg'].removeprefix('Value error, ')}")
        sys.exit(f"configuration error: {str(error['loc'][0]).upper()}: {error['msg']}")
