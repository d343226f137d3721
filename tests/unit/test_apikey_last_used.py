"""An API key's last use is written at most once a minute: a busy key must not serialise its requests on
its one row (measured by bench/load.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.apikeys import LAST_USED_EVERY, stale


def test_last_use_is_rewritten_only_when_older_than_a_minute() -> None:
    now = datetime.now(UTC)
    assert stale(None)
    assert not stale(now - timedelta(seconds=5))
    assert stale(now - LAST_USED_EVERY - timedelta(seconds=1))


def test_naive_timestamps_from_sqlite_are_utc() -> None:
    recent = (datetime.now(UTC) - timedelta(seconds=5)).replace(tzinfo=None)
    assert not stale(recent)
    assert stale(recent - timedelta(minutes=2))
