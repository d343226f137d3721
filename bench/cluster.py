"""A scaled-out Switchboard on one machine, every part a real process on 127.0.0.1.

Two ``switchboard serve`` API processes (DATABASE_URL, REDIS_URL and CHROMA_URL set, so ``serve`` starts no
embedded service and no worker), two ``switchboard worker`` processes, a Chroma server (``chroma run``), a
private ``redis-server`` and, for the fault drills, a private PostgreSQL cluster (``initdb``/``pg_ctl`` on a
free port under /tmp: the shared server on 5432 is never restarted). Each process has its own data dir;
they share only what a real deployment shares: the database, Redis, Chroma and the upload spool folder.

Used by ``bench.scaleout``, ``bench.load`` and ``tests/integration/test_scaleout.py``.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from hub.runtime import EmbeddedChroma, free_port, stop_process

ROOT = Path(__file__).resolve().parents[1]


def pg_bin(name: str) -> str:
    """A PostgreSQL server binary (Debian keeps them out of PATH), newest major version first."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if not found:
        raise RuntimeError(f"{name} not found under /usr/lib/postgresql/*/bin")
    return found[0]


@dataclass
class PrivateRedis:
    """``redis-server`` on a free port with an append-only file, so a restart keeps the queued jobs
    (a job queue without persistence loses them on any restart; see bench/README.md)."""

    folder: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes"]
        with (self.folder / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(
                ["redis-server", *args, "--dir", str(self.folder)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            ping = subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True, check=False
            )
            if ping.stdout.strip() == "PONG":
                return self.url
            time.sleep(0.1)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        """SIGTERM: Redis flushes its append-only file and exits."""
        if self.process is not None:
            stop_process(self.process, timeout_s=20)
            self.process = None


@dataclass
class PrivatePostgres:
    """A throwaway PostgreSQL cluster of our own, so that restarting it disturbs nobody else."""

    folder: Path
    port: int = 0

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/switchboard"

    def run(self, name: str, *args: str) -> None:
        """A server binary, as the ``postgres`` system user when we are root (PostgreSQL refuses root)."""
        as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_user, pg_bin(name), *args], check=True, stdout=subprocess.DEVNULL)

    def pg_ctl(self, *args: str) -> None:
        log = str(self.folder / "postgres.log")
        self.run("pg_ctl", "-D", str(self.folder / "data"), "-l", log, "-w", "-t", "60", *args)

    def start(self) -> str:
        if not (self.folder / "data").exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            if os.geteuid() == 0:
                shutil.chown(self.folder, "postgres", "postgres")
            self.run("initdb", "-D", str(self.folder / "data"), "-U", "postgres", "--auth=trust")
            self.port = self.port or free_port()
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=300"
        self.pg_ctl("start", "-o", options)
        if not (self.folder / "created").exists():
            self.run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "switchboard")
            (self.folder / "created").touch()
        return self.url

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.pg_ctl("stop", "-m", "fast")


@dataclass
class Slot:
    """One API or worker process; it keeps its port and data dir across restarts."""

    name: str
    args: list[str]
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0


@dataclass
class Cluster:
    root: Path
    database_url: str
    redis_url: str
    chroma_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    apis: list[Slot] = field(default_factory=list)
    workers: list[Slot] = field(default_factory=list)
    secret: str = field(default_factory=lambda: Fernet.generate_key().decode())

    @property
    def api_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{slot.port}" for slot in self.apis]

    def env(self, name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
        env.update(
            SWITCHBOARD_DATA_DIR=str(self.root / name),
            SWITCHBOARD_DATABASE_URL=self.database_url,
            SWITCHBOARD_REDIS_URL=self.redis_url,
            SWITCHBOARD_CHROMA_URL=self.chroma_url,
            SWITCHBOARD_SECRET_KEYS=self.secret,
            SWITCHBOARD_INGEST__SPOOL_DIR=str(self.root / "spool"),
            SWITCHBOARD_LOG_LEVEL="WARNING",
            ANONYMIZED_TELEMETRY="False",
            **self.extra_env,
        )
        return env

    def cli(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "hub.cli", *args],
            env=self.env("cli"),
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"switchboard {' '.join(args)} failed: {result.stderr[-2000:]}")
        return result.stdout.strip()

    def launch(self, slot: Slot) -> None:
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        with (self.root / "logs" / f"{slot.name}.log").open("ab") as log:
            slot.process = subprocess.Popen(
                [sys.executable, "-m", "hub.cli", *slot.args],
                env=self.env(slot.name),
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        slot.starts += 1

    def start(self, apis: int = 2, workers: int = 2, timeout_s: float = 180) -> None:
        """Migrate, then start the processes and wait until every API answers /readyz."""
        self.cli("db", "upgrade")
        for i in range(apis):
            port = free_port()
            self.apis.append(Slot(f"api{i}", ["serve", "--host", "127.0.0.1", "--port", str(port)], port))
        self.workers = [Slot(f"worker{i}", ["worker"]) for i in range(workers)]
        for slot in [*self.apis, *self.workers]:
            self.launch(slot)
        for slot in self.apis:
            self.wait_ready(slot, timeout_s)

    def wait_ready(self, slot: Slot, timeout_s: float = 180) -> None:
        url = f"http://127.0.0.1:{slot.port}/readyz"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if slot.process is not None and slot.process.poll() is not None:
                raise RuntimeError(f"{slot.name} exited with {slot.process.returncode} (see its log)")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=3).status_code == 200:
                    return
            time.sleep(0.3)
        raise RuntimeError(f"{slot.name} was not ready within {timeout_s:.0f}s")

    def kill(self, slot: Slot) -> None:
        """SIGKILL: no shutdown code runs, as when a node dies."""
        if slot.process is not None and slot.process.poll() is None:
            slot.process.send_signal(signal.SIGKILL)
            slot.process.wait()

    def stop(self) -> None:
        for slot in [*self.apis, *self.workers]:
            # SIGINT, not SIGTERM, for serve: see bench.slack_ack
            if slot.process is not None and slot.process.poll() is None:
                slot.process.send_signal(signal.SIGINT if slot.args[0] == "serve" else signal.SIGTERM)
        for slot in [*self.apis, *self.workers]:
            if slot.process is not None:
                try:
                    slot.process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    slot.process.kill()
                    slot.process.wait()


@dataclass
class Backing:
    redis: PrivateRedis
    postgres: PrivatePostgres | None
    redis_url: str
    chroma_url: str
    database_url: str


@contextlib.contextmanager
def backing_services(root: Path, *, database_url: str | None = None) -> Iterator[Backing]:
    """Private Redis, a Chroma server and (unless a database URL is given) a private PostgreSQL."""
    redis = PrivateRedis(root / "redis")
    (root / "chroma").mkdir(parents=True, exist_ok=True)
    chroma = EmbeddedChroma(root / "chroma")
    # its own folder under /tmp: the postgres user must reach it, and our temporary dirs are private
    pg_folder = Path(tempfile.mkdtemp(prefix="sb-pg-"))
    pg_folder.chmod(0o755)
    postgres = PrivatePostgres(pg_folder / "cluster") if database_url is None else None
    try:
        redis_url = redis.start()
        chroma_url = chroma.start(timeout_s=120)
        database_url = postgres.start() if postgres else str(database_url)
        yield Backing(redis, postgres, redis_url, chroma_url, database_url)
    finally:
        chroma.stop()
        redis.stop()
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(pg_folder, ignore_errors=True)


@contextlib.contextmanager
def running_cluster(
    root: Path,
    *,
    database_url: str,
    redis_url: str,
    chroma_url: str,
    extra_env: dict[str, str] | None = None,
    apis: int = 2,
    workers: int = 2,
) -> Iterator[Cluster]:
    cluster = Cluster(root, database_url, redis_url, chroma_url, dict(extra_env or {}))
    try:
        cluster.start(apis, workers)
        yield cluster
    finally:
        cluster.stop()


def exit_on_sigterm() -> None:
    """SIGTERM (``timeout``, a CI cancel) unwinds the context managers, so no server is left behind."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def clean(root: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
