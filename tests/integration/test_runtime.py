"""The embedded runtime of `serve`: Valkey and the worker child are restarted when they die."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import redis

from hub.runtime import EmbeddedValkey, Supervisor, WorkerChild
from hub.settings import Settings
from tests.support.workers import worker_env


def test_a_killed_embedded_valkey_comes_back_on_the_same_url_with_its_data(tmp_path: Path) -> None:
    valkey = EmbeddedValkey(tmp_path)
    supervisor = Supervisor()
    supervisor.watch(valkey.ensure)
    url = valkey.start()
    try:
        client = redis.Redis.from_url(url)
        client.set("queued", "job:1")
        # flush to the append-only file now, not within a second
        client.bgrewriteaof()  # type: ignore[no-untyped-call]
        time.sleep(1.5)
        client.close()
        assert (tmp_path / "valkey").is_dir(), "it lives in the data dir"
        os.kill(valkey.server._process.pid, signal.SIGKILL)
        time.sleep(0.2)
        assert not valkey.alive()
        supervisor.check_once()
        assert valkey.alive() and valkey.restarts == 1
        again = redis.Redis.from_url(url)
        assert again.get("queued") == b"job:1"
        again.close()
    finally:
        valkey.stop()
    assert not valkey.alive()


def test_a_dead_worker_child_is_restarted(tmp_path: Path, redis_url: str) -> None:
    settings = Settings(data_dir=tmp_path / "var", redis_url=redis_url)
    child = WorkerChild(worker_env(settings))
    supervisor = Supervisor()
    supervisor.watch(child.ensure)
    child.start()
    try:
        assert child.process is not None
        first = child.process.pid
        os.kill(first, signal.SIGKILL)
        child.process.wait(timeout=10)
        supervisor.check_once()
        assert child.process.pid != first and child.process.poll() is None and child.restarts == 1
        supervisor.check_once()
        assert child.restarts == 1, "a live child is left alone"
    finally:
        child.stop()
