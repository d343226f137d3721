"""Encryption keys for secrets at rest: ``SWITCHBOARD_SECRET_KEYS``, or one generated into the data dir."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core.errors import ConfigError
from hub.settings import Settings

KEY_FILE = "secret.key"


def _generated_key(data_dir: Path) -> str:
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
    return path.read_text().strip()


def fernet(settings: Settings) -> MultiFernet:
    """MultiFernet over the configured keys (the first encrypts); a bad key is a clear start-up error."""
    keys = [k.get_secret_value() for k in settings.secret_keys] or [_generated_key(settings.data_dir)]
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except (ValueError, InvalidToken) as exc:
        raise ConfigError(
            "SWITCHBOARD_SECRET_KEYS must be comma-separated Fernet keys (32 url-safe base64 bytes each)"
        ) from exc
