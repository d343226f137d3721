"""``switchboard serve``: embedded services for whatever is not configured, a worker child, then the app."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import uvicorn
from rich.console import Console

from core import workspaces
from core.db import make_engine
from hub.app import create_app
from hub.cli_users import DEMO_OWNER, demo_owner
from hub.migrate import ensure_schema
from hub.runtime import (
    EmbeddedChroma,
    EmbeddedValkey,
    Supervisor,
    WorkerChild,
    clear_runtime,
    store_lock,
    write_runtime,
)
from hub.settings import Settings
from hub.worker import enqueue_pool

DEMO_CORPUS = Path(__file__).parent / "demo" / "corpus"
DEMO_JOB_ID = "demo-corpus-load"


def start_embedded(
    settings: Settings, stack: contextlib.ExitStack, console: Console, supervisor: Supervisor
) -> Settings:
    """Start Valkey and Chroma where no URL is set; returns settings pointing at them."""
    updates: dict[str, str] = {}
    if not settings.redis_url:
        valkey = EmbeddedValkey(settings.data_dir)
        updates["redis_url"] = valkey.start()
        stack.callback(valkey.stop)
        supervisor.watch(valkey.ensure)
    if not settings.chroma_url:
        stack.enter_context(store_lock(settings.data_dir))
        chroma = EmbeddedChroma(settings.data_dir)
        updates["chroma_url"] = chroma.start()
        stack.callback(chroma.stop)
    if updates:
        console.print(f"embedded services: {', '.join(f'{k}={v}' for k, v in updates.items())}")
    return settings.model_copy(update=updates)


def start_worker_child(settings: Settings) -> WorkerChild:
    env = {
        **os.environ,
        "SWITCHBOARD_REDIS_URL": settings.redis_url or "",
        "SWITCHBOARD_CHROMA_URL": settings.chroma_url or "",
        "SWITCHBOARD_DATA_DIR": str(settings.data_dir.resolve()),
    }
    child = WorkerChild(env)
    child.start()
    return child


async def prepare(settings: Settings, *, demo: bool, console: Console) -> None:
    """Migrate (SQLite) or check (PostgreSQL) the schema; queue the demo corpus when asked."""
    engine = make_engine(settings.resolved_database_url())
    try:
        await ensure_schema(engine)
    finally:
        await engine.dispose()
    if demo:
        await queue_demo(settings, console)


async def queue_demo(settings: Settings, console: Console) -> None:
    from core.db import make_sessions

    engine = make_engine(settings.resolved_database_url())
    try:
        async with make_sessions(engine).begin() as session:
            await workspaces.get_or_create(session, "demo")
            password = await demo_owner(session)
    finally:
        await engine.dispose()
    pool = await enqueue_pool(settings)
    try:
        await pool.enqueue_job("ingest_paths", "demo", [str(DEMO_CORPUS)], None, True, _job_id=DEMO_JOB_ID)
    finally:
        await pool.aclose()
    console.print(
        "demo corpus is loading into workspace [bold]demo[/bold] in the background; try:\n"
        '  switchboard ask "Who do I page for a SEV1?" --workspace demo'
    )
    if password is not None:  # printed once: the next --demo start finds the owner and prints nothing
        console.print(
            f"demo owner for /admin: [bold]{DEMO_OWNER}[/bold] password [bold]{password}[/bold] (shown once)"
        )


class Stopped(Exception):
    """SIGTERM, turned into an exception so the embedded services are stopped on the way out."""


def raise_stopped(signum: int, frame: object) -> None:
    raise Stopped(signum)


def run_server(settings: Settings, *, host: str, port: int, demo: bool) -> None:
    """Serve until SIGINT or SIGTERM, then stop the worker child, Chroma and Valkey, and exit 0.

    uvicorn re-raises the signal it caught once it has stopped; by default SIGTERM would then kill this
    process on the spot and orphan Valkey, Chroma and the worker. Our handler makes it an exception
    that unwinds the exit stack instead."""
    with contextlib.suppress(KeyboardInterrupt, Stopped):
        _run(settings, host=host, port=port, demo=demo)


def _run(settings: Settings, *, host: str, port: int, demo: bool) -> None:
    console = Console(stderr=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    embedded_worker = not settings.redis_url
    supervisor = Supervisor()
    with contextlib.ExitStack() as stack:
        settings = start_embedded(settings, stack, console, supervisor)
        write_runtime(
            settings.data_dir, redis_url=settings.redis_url or "", chroma_url=settings.chroma_url or ""
        )
        stack.callback(clear_runtime, settings.data_dir)
        asyncio.run(prepare(settings, demo=demo, console=console))
        if embedded_worker:
            child = start_worker_child(settings)
            stack.callback(child.stop)
            supervisor.watch(child.ensure)
        supervisor.start()
        stack.callback(supervisor.stop)  # registered last, runs first: nothing restarts during shutdown
        signal.signal(signal.SIGTERM, raise_stopped)
        uvicorn.run(
            create_app(settings),
            host=host,
            port=port,
            log_level=settings.log_level.lower(),
            log_config=None,  # keep hub.logging's format (JSON when asked)
            access_log=False,  # hub.correlation logs one line per request, with its request id
        )
