"""Slack acknowledgement latency under load: 200 signed slash commands from 50 concurrent clients to one
real ``switchboard serve`` process (a subprocess, talking to the loopback fake Slack Web API), while
that process answers every one of them in the background.

    .venv/bin/python -m bench.slack_ack [--requests 200] [--clients 50]

Before timing, one command is answered end to end and the machine is given a few seconds to settle
(the worker child and Chroma server that ``serve`` starts load their models meanwhile): the figures
are for a running service, not for its start-up. Prints one JSON object: ack latency p50/p99/max
(ms, measured by the clients around each POST), how many answers arrived at the response_url, the
time until the last one, and the machine.
The target is ack p99 < 300 ms: the acknowledgement never waits for the answer.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from hub.runtime import free_port
from tests.fakes.slack import FakeSlack, fake_slack
from tests.support.slack import signed_headers, slash_command

SECRET = "bench-signing-secret"
CORPUS = Path(__file__).resolve().parents[1] / "hub" / "demo" / "corpus" / "oncall"
QUESTIONS = [
    "Who do I page for a SEV1?",
    "How does the on-call handoff work?",
    "What goes into a postmortem?",
    "How is on-call compensated?",
    "When do we update the status page?",
]


@contextlib.contextmanager
def fake_in_thread() -> Iterator[FakeSlack]:
    """The fake Slack API on its own event loop, so it never competes with the clients being timed."""
    ready: queue.Queue[FakeSlack] = queue.Queue()
    stop = threading.Event()

    async def main() -> None:
        async with fake_slack() as fake:
            ready.put(fake)
            while not stop.is_set():  # noqa: ASYNC110 - a threading.Event set by another thread
                await asyncio.sleep(0.05)

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    try:
        yield ready.get(timeout=30)
    finally:
        stop.set()
        thread.join(timeout=30)


def cli(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "hub.cli", *args], env=env, check=True, stdout=subprocess.DEVNULL)


def prepare(env: dict[str, str]) -> None:
    cli(env, "workspace", "create", "bench")
    cli(env, "channel", "map", "slack", "--team", "TBENCH", "--channel", "CBENCH", "--workspace", "bench")
    cli(env, "ingest", str(CORPUS), "--workspace", "bench")


def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("switchboard serve exited")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    raise RuntimeError("switchboard serve did not become healthy")


async def client(
    http: httpx.AsyncClient, fake: FakeSlack, jobs: asyncio.Queue[int], latencies: list[tuple[int, float]]
) -> None:
    while not jobs.empty():
        n = jobs.get_nowait()
        body = slash_command(
            team="TBENCH",
            channel="CBENCH",
            user=f"U{n + 1:04d}",
            text=QUESTIONS[n % len(QUESTIONS)],
            response_url=fake.response_url(f"q{n}"),
        )
        headers = signed_headers(SECRET, body, content_type="application/x-www-form-urlencoded")
        started = time.perf_counter()
        response = await http.post("/slack/events", content=body, headers=headers)
        latencies.append((n, (time.perf_counter() - started) * 1000))
        if response.status_code != 200:
            raise RuntimeError(f"ack failed: {response.status_code} {response.text}")


async def warm_up(url: str, fake: FakeSlack, settle_s: float) -> None:
    jobs: asyncio.Queue[int] = asyncio.Queue()
    jobs.put_nowait(-1)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        await client(http, fake, jobs, [])
    while "q-1" not in fake.responses:  # noqa: ASYNC110 - filled by the fake's own thread
        await asyncio.sleep(0.1)
    await asyncio.sleep(settle_s)


async def load(url: str, fake: FakeSlack, requests: int, clients: int) -> dict[str, float]:
    jobs: asyncio.Queue[int] = asyncio.Queue()
    for n in range(requests):
        jobs.put_nowait(n)
    latencies: list[tuple[int, float]] = []
    # the clients exist before the clock starts: building 50 of them is the bench's cost, not the server's
    https = [httpx.AsyncClient(base_url=url, timeout=30) for _ in range(clients)]
    started = time.perf_counter()
    try:
        await asyncio.gather(*(client(http, fake, jobs, latencies) for http in https))
    finally:
        await asyncio.gather(*(http.aclose() for http in https))
    acked_s = time.perf_counter() - started
    while len(fake.responses) < requests + 1 and time.perf_counter() - started < 900:  # noqa: ASYNC110
        await asyncio.sleep(0.2)
    ranked = sorted(ms for _, ms in latencies)
    after_first_burst = sorted(ms for n, ms in latencies if n >= clients)
    return {
        "ack_ms_p50": percentile(ranked, 0.50),
        "ack_ms_p99": percentile(ranked, 0.99),
        "ack_ms_max": round(ranked[-1], 1),
        "ack_ms_p99_after_first_burst": percentile(after_first_burst, 0.99),
        "all_acked_s": round(acked_s, 2),
        "answered": len(fake.responses) - 1,
        "last_answer_s": round(time.perf_counter() - started, 2),
    }


def percentile(ranked: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return round(ranked[max(0, min(len(ranked) - 1, math.ceil(q * len(ranked)) - 1))], 1)


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    python = platform.python_version()
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {model}, Python {python}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--settle-s", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data, fake_in_thread() as fake:
        env = {
            **os.environ,
            "SWITCHBOARD_DATA_DIR": data,
            "SWITCHBOARD_SLACK__SIGNING_SECRET": SECRET,
            "SWITCHBOARD_SLACK__BOT_TOKEN": "xoxb-bench",
            "SWITCHBOARD_SLACK__API_URL": fake.api_url,
            "SWITCHBOARD_SLACK__USER_RATE": "1000/minute",
            "SWITCHBOARD_SLACK__CHANNEL_RATE": "10000/minute",
            "SWITCHBOARD_LOG_LEVEL": "WARNING",
        }
        for key in ("SWITCHBOARD_DATABASE_URL", "SWITCHBOARD_REDIS_URL", "SWITCHBOARD_CHROMA_URL"):
            env.pop(key, None)
        print("preparing workspace 'bench' (on-call demo docs)...", file=sys.stderr)
        prepare(env)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        process = subprocess.Popen([sys.executable, "-m", "hub.cli", "serve", "--port", str(port)], env=env)
        try:
            wait_healthy(url, process)
            print(
                f"serve is up; sending {args.requests} commands from {args.clients} clients", file=sys.stderr
            )
            asyncio.run(warm_up(url, fake, args.settle_s))
            result = asyncio.run(load(url, fake, args.requests, args.clients))
        finally:
            # SIGINT, not SIGTERM: uvicorn re-raises SIGTERM after shutdown, which would kill serve before it
            # stops its children (Valkey, Chroma, the worker)
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
    print(json.dumps({**result, "requests": args.requests, "clients": args.clients, "machine": machine()}))


if __name__ == "__main__":
    main()
