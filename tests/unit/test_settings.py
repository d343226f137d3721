"""Settings come from SWITCHBOARD_* variables, nested with __, validated with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.settings import Settings


def test_defaults_are_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATA_DIR", "DATABASE_URL", "REDIS_URL", "CHROMA_URL"):
        monkeypatch.delenv(f"SWITCHBOARD_{name}", raising=False)
    settings = Settings()
    assert settings.data_dir == Path("./var")
    assert settings.redis_url is None and settings.chroma_url is None
    assert settings.resolved_database_url().startswith("sqlite+aiosqlite:///")
    assert settings.resolved_database_url().endswith("/var/switchboard.db")


def test_nested_variables_and_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_SECRET_KEYS", " k1 , k2,")
    monkeypatch.setenv("SWITCHBOARD_SLACK__SIGNING_SECRET", "shh")
    monkeypatch.setenv("SWITCHBOARD_TEAMS__ALLOWED_TENANTS", '["t1", "t2"]')
    monkeypatch.setenv(
        "SWITCHBOARD_LLM__PROVIDERS",
        '[{"name": "a", "base_url": "http://127.0.0.1:1/v1", "api_key": "sk-x", "model": "m",'
        ' "input_usd_per_mtok": 0.15, "output_usd_per_mtok": 0.6, "timeout_s": 5}]',
    )
    monkeypatch.setenv("SWITCHBOARD_DATABASE_URL", "  ")
    settings = Settings()
    assert [k.get_secret_value() for k in settings.secret_keys] == ["k1", "k2"]
    assert settings.slack.signing_secret is not None
    assert settings.slack.signing_secret.get_secret_value() == "shh"
    assert settings.teams.allowed_tenants == ["t1", "t2"]
    provider = settings.llm.providers[0]
    assert provider.model == "m" and provider.timeout_s == 5 and provider.api_key.get_secret_value() == "sk-x"
    assert "sk-x" not in repr(settings)
    assert settings.database_url is None


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SWITCHBOARD_LLM__PROVIDERS", "not json"),
        ("SWITCHBOARD_LLM__PROVIDERS", '[{"name": "a"}]'),
        ("SWITCHBOARD_RETRIEVAL__MODE", "telepathy"),
        ("SWITCHBOARD_RETRIEVAL__CHUNK_TOKENS", "5000"),
        ("SWITCHBOARD_EMBEDDING__PROVIDER", "nope"),
        ("SWITCHBOARD_API__AUDIT_BATCH_S", "0"),
    ],
)
def test_bad_values_are_rejected_with_the_field_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError) as error:  # ValidationError, or SettingsError for unparseable JSON
        Settings()
    assert name.removeprefix("SWITCHBOARD_").split("__")[0].lower() in str(error.value).lower()
