"""The load generator, run by ``bench.load`` as its own process (never inside a server).

Open loop: each simulated user waits an exponentially distributed gap (mean ``--gap-s``) and fires a
question without waiting for the previous one, so 200 users at 5 s give about 40 requests/s whatever the
servers do. A share of the questions are signed Slack slash commands (``POST /slack/events``, timed to the
acknowledgement; the answer goes to the fake Slack's response_url later), the rest REST asks (timed to the
full answer). Writes one JSON line per request to ``--out`` (absolute time, kind, backend, status,
latency, error) and prints a summary.

The client is aiohttp: on these two cores the generator shares the CPU with the cluster it measures, so
its own cost per request matters (bench/README.md, "Load").

The load balancer is this client: round-robin over the API processes; a backend that refuses a connection
is skipped for 2 s and the request goes to the next one (what nginx's ``proxy_next_upstream error`` does
for a request it has not sent yet). A request that fails after it was sent is an error, never retried.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp

from bench.scaleout import QUESTIONS
from tests.support.slack import signed_headers, slash_command

DOWN_S = 2.0


@dataclass
class Balancer:
    """Round-robin over base URLs with passive health: refused connections take a backend out briefly."""

    session: aiohttp.ClientSession
    bases: list[str]
    down_until: list[float] = field(default_factory=list)
    turn: int = 0

    def __post_init__(self) -> None:
        self.down_until = [0.0] * len(self.bases)

    def order(self) -> list[int]:
        """Backends to try, next in turn first; the ones marked down go last."""
        n = len(self.bases)
        self.turn = (self.turn + 1) % n
        ring = [(self.turn + i) % n for i in range(n)]
        now = time.monotonic()
        return [i for i in ring if self.down_until[i] <= now] + [i for i in ring if self.down_until[i] > now]

    async def post(self, path: str, **kwargs: Any) -> tuple[int, int]:
        """(backend index, HTTP status), the whole response read."""
        tried = self.order()
        for attempt, i in enumerate(tried):
            try:
                async with self.session.post(self.bases[i] + path, **kwargs) as response:
                    await response.read()
                    return i, response.status
            except aiohttp.ClientConnectorError:  # refused: not sent, so the next backend may take it
                self.down_until[i] = time.monotonic() + DOWN_S
                if attempt == len(tried) - 1:
                    raise
        raise AssertionError("unreachable")


@dataclass
class Load:
    balancer: Balancer
    key: str
    secret: str
    response_base: str
    slack_share: float
    out: IO[str]
    sent: int = 0

    def record(self, **row: Any) -> None:
        self.out.write(json.dumps(row) + "\n")

    async def one(self, user: int, rng: random.Random) -> None:
        self.sent += 1
        n, question = self.sent, rng.choice(QUESTIONS)
        kind = "slack" if rng.random() < self.slack_share else "rest"
        started, wall = time.perf_counter(), time.time()
        backend, status, error = -1, 0, ""
        try:
            backend, status = await self.send(kind, n, user, question)
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = type(exc).__name__
        ms = (time.perf_counter() - started) * 1000
        ok = status == 200
        self.record(
            t=wall, kind=kind, n=n, backend=backend, status=status, ok=ok, ms=round(ms, 1), error=error
        )

    async def send(self, kind: str, n: int, user: int, question: str) -> tuple[int, int]:
        if kind == "rest":
            return await self.balancer.post(
                "/api/v1/workspaces/bench/ask",
                json={"question": question},
                headers={"Authorization": f"Bearer {self.key}"},
            )
        body = slash_command(
            team="TBENCH",
            channel="CBENCH",
            user=f"U{user:04d}",
            text=question,
            response_url=f"{self.response_base}{n}",
        )
        headers = signed_headers(self.secret, body, content_type="application/x-www-form-urlencoded")
        return await self.balancer.post("/slack/events", data=body, headers=headers)

    async def user(self, user: int, gap_s: float, until: float, seed: int) -> list[asyncio.Task[None]]:
        rng = random.Random(seed * 100_003 + user)
        tasks: list[asyncio.Task[None]] = []
        while True:
            await asyncio.sleep(rng.expovariate(1 / gap_s))
            if time.monotonic() >= until:
                return tasks
            tasks.append(asyncio.create_task(self.one(user, rng)))


async def run(args: argparse.Namespace) -> None:
    connector = aiohttp.TCPConnector(limit=400)
    timeout = aiohttp.ClientTimeout(total=args.timeout_s)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        with Path(args.out).open("w", buffering=1) as out:  # noqa: ASYNC230 - line-buffered: bench.load watches it
            balancer = Balancer(session, args.apis.split(","))
            load = Load(balancer, args.key, args.secret, args.response_base, args.slack_share, out)
            until = time.monotonic() + args.duration_s
            users = [load.user(u, args.gap_s, until, args.seed) for u in range(args.users)]
            spawned = await asyncio.gather(*users)
            await asyncio.gather(*(t for tasks in spawned for t in tasks))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--apis", required=True, help="comma-separated base URLs")
    parser.add_argument("--key", required=True)
    parser.add_argument("--secret", required=True, help="Slack signing secret")
    parser.add_argument("--response-base", required=True, help="the fake Slack's response_url prefix")
    parser.add_argument("--out", required=True)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--gap-s", type=float, default=5.0)
    parser.add_argument("--duration-s", type=float, default=60.0)
    parser.add_argument("--slack-share", type=float, default=0.5)
    parser.add_argument("--timeout-s", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
