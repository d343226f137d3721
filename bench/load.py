"""Load and fault drills against the scaled-out cluster of ``bench.cluster``.

    nice -n 10 .venv/bin/python -m bench.load [--duration-s 60] [--users 200] [--modes off,on] [--drills]

Starts a private PostgreSQL cluster, a private redis-server, a Chroma server, two API and two worker
processes, plus the loopback fake Slack Web API / response_url receiver (``tests/fakes/slack.py``, in a
thread of this process). Ingests the demo corpus through uploads, then for each cache mode (``off``: the
query cache disabled in every API; ``on``: the default) restarts the APIs and workers with that setting
and runs ``bench.loadgen`` in its own process: 200 open-loop users, one question per 5 s each on
average (about 40 requests/s), half signed Slack slash commands, half REST asks, extractive answers.

``--drills`` (one extra run, cache on, longer): during the load, SIGKILL one API and one worker (both
restarted 10 s later, as an orchestrator would), restart Redis, restart PostgreSQL; small uploads are
submitted every 2 s throughout. Reports readiness transitions per API, errors per drill window, and
whether every accepted (202) upload job finished complete. A supervisor restarts any process that dies
by itself (as Kubernetes would) and counts those restarts.

Each run also reports the CPU seconds each part of the cluster used while the load ran (``bench/cpu.py``).

Prints one JSON object per run and writes them to ``--out`` (default bench/.cache/load.json).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench import cpu
from bench.cluster import ROOT, Backing, Cluster, Slot, backing_services, exit_on_sigterm, running_cluster
from bench.scaleout import corpus_files, incomplete, set_up, upload, upload_round_robin, wait_jobs
from bench.slack_ack import fake_in_thread, machine
from tests.fakes.slack import FakeSlack

SECRET = "bench-signing-secret"


def percentile(ranked: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not ranked:
        return None
    return round(ranked[max(0, min(len(ranked) - 1, math.ceil(q * len(ranked)) - 1))], 1)


def latency(rows: list[dict[str, Any]]) -> dict[str, Any]:
    ranked = sorted(r["ms"] for r in rows if r["ok"])
    errors = [r for r in rows if not r["ok"]]
    kinds: dict[str, int] = {}
    for r in errors:
        reason = r["error"] or f"HTTP {r['status']}"
        kinds[reason] = kinds.get(reason, 0) + 1
    return {
        "requests": len(rows),
        "p50_ms": percentile(ranked, 0.50),
        "p95_ms": percentile(ranked, 0.95),
        "p99_ms": percentile(ranked, 0.99),
        "errors": len(errors),
        "error_kinds": kinds,
    }


def summarize(rows: list[dict[str, Any]], duration_s: float) -> dict[str, Any]:
    return {
        "rate_per_s": round(len(rows) / duration_s, 1),
        "all": latency(rows),
        "rest_ask": latency([r for r in rows if r["kind"] == "rest"]),
        "slack_ack": latency([r for r in rows if r["kind"] == "slack"]),
    }


@dataclass
class Monitor:
    """Readiness of every API every 0.5 s (transitions kept), and a supervisor that restarts any process
    that died, unless a drill holds it down."""

    cluster: Cluster
    held: set[str] = field(default_factory=set)
    transitions: list[tuple[float, str, str]] = field(default_factory=list)
    restarts: list[tuple[float, str]] = field(default_factory=list)
    stopped: threading.Event = field(default_factory=threading.Event)

    def state(self, http: httpx.Client, slot: Slot) -> str:
        try:
            status = http.get(f"http://127.0.0.1:{slot.port}/readyz").status_code
        except httpx.TimeoutException:
            return "no answer in 2 s"
        except httpx.HTTPError:
            return "down"
        return "ready" if status == 200 else "not-ready"

    def run(self) -> None:
        # one client, a new connection per probe as an orchestrator's probes make: a client per probe
        # built an SSL context each time, 2/3 of this process's CPU during the load
        with httpx.Client(timeout=2, limits=httpx.Limits(max_keepalive_connections=0)) as http:
            self.watch(http)

    def watch(self, http: httpx.Client) -> None:
        last: dict[str, str] = {}
        while not self.stopped.wait(0.5):
            for slot in self.cluster.apis:
                now = self.state(http, slot)
                if last.get(slot.name) != now:
                    self.transitions.append((time.time(), slot.name, now))
                    last[slot.name] = now
            for slot in [*self.cluster.apis, *self.cluster.workers]:
                if (
                    slot.name not in self.held
                    and slot.process is not None
                    and slot.process.poll() is not None
                ):
                    self.restarts.append((time.time(), slot.name))
                    self.cluster.launch(slot)

    @contextlib.contextmanager
    def running(self) -> Iterator[Monitor]:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.stopped.set()
            thread.join(timeout=10)


@dataclass
class Drills:
    cluster: Cluster
    backing: Backing
    monitor: Monitor
    events: list[tuple[float, str]] = field(default_factory=list)

    def mark(self, name: str) -> None:
        self.events.append((time.time(), name))
        print(f"drill: {name}", file=sys.stderr)

    def kill_api_and_worker(self) -> None:
        api, worker = self.cluster.apis[0], self.cluster.workers[0]
        self.monitor.held |= {api.name, worker.name}
        self.mark("SIGKILL api0 + worker0")
        self.cluster.kill(api)
        self.cluster.kill(worker)
        time.sleep(10)
        self.mark("restart api0 + worker0")
        self.monitor.held.clear()

    def restart_redis(self) -> None:
        self.mark("stop redis")
        self.backing.redis.stop()
        time.sleep(3)
        self.backing.redis.start()
        self.mark("redis started")

    def restart_postgres(self) -> None:
        assert self.backing.postgres is not None
        self.mark("stop postgresql")
        self.backing.postgres.stop()
        time.sleep(3)
        self.backing.postgres.start()
        self.mark("postgresql started")

    def run(self, started: float) -> None:
        schedule = [(10, self.kill_api_and_worker), (40, self.restart_redis), (65, self.restart_postgres)]
        for at, drill in schedule:
            time.sleep(max(0.0, started + at - time.time()))
            drill()


def loadgen(
    cluster: Cluster, key: str, fake: FakeSlack, mode: str, args: argparse.Namespace, out: Path
) -> None:
    command = [
        sys.executable,
        "-m",
        "bench.loadgen",
        "--apis",
        ",".join(cluster.api_urls),
        "--key",
        key,
        "--secret",
        SECRET,
        "--response-base",
        fake.response_url(f"{mode}-"),
        "--out",
        str(out),
        "--users",
        str(args.users),
        "--duration-s",
        str(args.duration_s),
    ]
    subprocess.run(command, cwd=ROOT, check=True)


async def upload_during(cluster: Cluster, key: str, until: float) -> tuple[list[int], int]:
    """One small upload every 2 s through the round-robin; (accepted job ids, refused uploads)."""
    accepted, refused, n = [], 0, 0
    async with httpx.AsyncClient(timeout=30) as http:
        while time.time() < until:
            n += 1
            files = [
                (f"drill-{n}-{i}.md", f"# Drill {n}.{i}\n\nMarker drill{n}x{i} text.\n".encode())
                for i in range(2)
            ]
            try:
                accepted.append(await upload(http, cluster.api_urls[n % 2], key, files))
            except httpx.HTTPError:
                refused += 1
            await asyncio.sleep(2)
    return accepted, refused


async def settle_jobs(cluster: Cluster, key: str, job_ids: list[int]) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as http:
        try:
            records = await wait_jobs(http, cluster.api_urls, key, job_ids, timeout_s=300)
        except AssertionError as exc:
            return {"accepted": len(job_ids), "lost_or_stuck": str(exc)}
    bad = {r["id"]: why for r in records if (why := incomplete(r))}
    return {"accepted": len(job_ids), "incomplete": bad, "retried": sum(r["attempts"] > 1 for r in records)}


def windows(rows: list[dict[str, Any]], events: list[tuple[float, str]]) -> dict[str, Any]:
    """Errors from each drill's start until 15 s after it, by drill."""
    starts = [(t, name) for t, name in events if name.startswith(("SIGKILL", "stop"))]
    out = {}
    for t, name in starts:
        inside = [r for r in rows if t <= r["t"] < t + 15]
        out[name] = {"requests": len(inside), "errors": sum(not r["ok"] for r in inside)}
    return out


def relative(items: list[tuple[float, str, str]] | list[tuple[float, str]], zero: float) -> list[Any]:
    return [[round(item[0] - zero, 1), *item[1:]] for item in items]


def answered(fake: FakeSlack, mode: str, sent: int, wait_s: float = 90) -> int:
    """Slack answers delivered to response_url for this run (waits for the backlog to drain)."""
    deadline = time.monotonic() + wait_s
    count = 0
    while time.monotonic() < deadline:
        count = sum(1 for key in list(fake.responses) if key.startswith(f"{mode}-"))
        if count >= sent:
            break
        time.sleep(1)
    return count


def warm_up(cluster: Cluster, key: str) -> None:
    for base in cluster.api_urls:
        for _ in range(3):
            httpx.post(
                f"{base}/api/v1/workspaces/bench/ask",
                json={"question": "warm up: who do I page?"},
                headers={"Authorization": f"Bearer {key}"},
                timeout=120,
            ).raise_for_status()


def first_request(out: Path, timeout_s: float = 120) -> float:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if out.exists() and out.stat().st_size > 0:
            return time.time()
        time.sleep(0.2)
    raise RuntimeError("the load generator sent nothing")


def measure(
    cluster: Cluster, backing: Backing, key: str, fake: FakeSlack, mode: str, args: argparse.Namespace
) -> dict[str, Any]:
    warm_up(cluster, key)
    out = cluster.root / f"{mode}.jsonl"
    monitor = Monitor(cluster)
    drills = Drills(cluster, backing, monitor)
    with monitor.running():
        cpu_before, children_before = cpu.snapshot(), cpu.waited_children_s()
        generator = threading.Thread(target=loadgen, args=(cluster, key, fake, mode, args, out))
        generator.start()
        started = first_request(
            out
        )  # the drills' clock starts with the load, not with the generator's imports
        uploads: tuple[list[int], int] = ([], 0)
        if mode == "drills":
            thread = threading.Thread(target=drills.run, args=(started,))
            thread.start()
            uploads = asyncio.run(upload_during(cluster, key, started + args.duration_s))
            thread.join()
        generator.join()
        cpu_used = cpu.used(cpu_before, cpu.snapshot())
        cpu_used["load generator (and other exited children)"] = round(
            cpu.waited_children_s() - children_before, 1
        )
        jobs = asyncio.run(settle_jobs(cluster, key, uploads[0])) if mode == "drills" else None
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    slack_sent = sum(r["kind"] == "slack" and r["ok"] for r in rows)
    result = {
        "mode": mode,
        "users": args.users,
        "duration_s": args.duration_s,
        **summarize(rows, args.duration_s),
        "slack_answers_delivered": answered(fake, mode, slack_sent),
        "slack_acked": slack_sent,
        "cpu_s_by_role": cpu_used,
    }
    if mode == "drills":
        result |= {
            "drills": relative(drills.events, started),
            "readiness": relative(monitor.transitions, started),
            "supervisor_restarts": relative(monitor.restarts, started),
            "errors_by_drill": windows(rows, drills.events),
            "uploads": {**(jobs or {}), "refused": uploads[1]},
        }
    return result


def slack_env(fake: FakeSlack, cache: bool) -> dict[str, str]:
    return {
        "SWITCHBOARD_CACHE__ENABLED": "true" if cache else "false",
        "SWITCHBOARD_SLACK__SIGNING_SECRET": SECRET,
        "SWITCHBOARD_SLACK__BOT_TOKEN": "xoxb-bench",
        "SWITCHBOARD_SLACK__API_URL": fake.api_url,
        "SWITCHBOARD_SLACK__USER_RATE": "10000/minute",
        "SWITCHBOARD_SLACK__CHANNEL_RATE": "100000/minute",
        # 200 users share one API key, one workspace and one channel here: the per-key, per-workspace and
        # per-channel limits (600, 3000 and 30 a minute by default) would answer most requests with 429
        "SWITCHBOARD_RATE_LIMITS__API_KEY": "100000/minute",
        "SWITCHBOARD_RATE_LIMITS__WORKSPACE": "100000/minute",
        "SWITCHBOARD_JOBS__LEASE_S": "10",
    }


def prepare(root: Path, backing: Backing, fake: FakeSlack) -> str:
    """Workspace, key, channel mapping and the demo corpus (uploaded), with a cluster of its own."""
    with running_cluster(
        root / "prepare",
        database_url=backing.database_url,
        redis_url=backing.redis_url,
        chroma_url=backing.chroma_url,
        extra_env=slack_env(fake, cache=True),
    ) as cluster:
        key = set_up(cluster)
        cluster.cli(
            "channel", "map", "slack", "--team", "TBENCH", "--channel", "CBENCH", "--workspace", "bench"
        )

        async def ingest() -> None:
            async with httpx.AsyncClient(timeout=300) as http:
                ids = await upload_round_robin(http, cluster.api_urls, key, corpus_files(), per_request=9)
                await wait_jobs(http, cluster.api_urls, key, ids)

        asyncio.run(ingest())
    return key


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration-s", type=float, default=60.0)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--modes", default="off,on", help="comma-separated: off, on, drills")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / ".cache" / "load.json")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it (logs, request records)")
    args = parser.parse_args()
    exit_on_sigterm()
    results = []
    with tempfile.TemporaryDirectory(prefix="sb-load-") as tmp, fake_in_thread() as fake:
        root = args.keep or Path(tmp)
        with backing_services(root) as backing:
            print(f"preparing under {root}", file=sys.stderr)
            key = prepare(root, backing, fake)
            for mode in args.modes.split(","):
                print(f"run: {mode}", file=sys.stderr)
                with running_cluster(
                    root / mode,
                    database_url=backing.database_url,
                    redis_url=backing.redis_url,
                    chroma_url=backing.chroma_url,
                    extra_env=slack_env(fake, cache=mode != "off"),
                ) as cluster:
                    results.append({**measure(cluster, backing, key, fake, mode, args), "machine": machine()})
                print(json.dumps(results[-1]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
