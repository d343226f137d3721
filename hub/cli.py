"""The ``switchboard`` command line: serve, worker, ingest, ask, eval, db, and the admin groups."""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path
from typing import Any

import click

from core import workspaces
from core.errors import SwitchboardError
from core.indexing import ingest_all
from core.models import Answer, Asker, Question, check_slug
from hub import evaluate
from hub.cli_admin import apikey, channel, workspace
from hub.cli_protect import GROUPS as protect_groups
from hub.cli_push import push
from hub.cli_sources import source
from hub.cli_support import err, fail, load_settings, opened, runs_async
from hub.cli_users import user
from hub.container import Services
from hub.files import read_documents
from hub.migrate import upgrade


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Switchboard: answers from your company's documents, in Slack, Teams, REST and webhooks."""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--demo", is_flag=True, help="Load the bundled demo corpus into workspace `demo`.")
def serve(host: str, port: int, demo: bool) -> None:
    """Web app (bots, webhooks, REST, admin) + a worker, with embedded services for what is not configured."""
    from hub.serve import run_server

    try:
        run_server(load_settings(), host=host, port=port, demo=demo)
    except SwitchboardError as exc:
        fail(str(exc))


@cli.command()
@click.option("--check", is_flag=True, help="Exit 0 if this host's worker is alive (its arq health beat).")
def worker(check: bool) -> None:
    """An arq worker only (scaled mode: run as many as needed)."""
    import asyncio

    from hub.worker import check_health, run_worker

    settings = load_settings()
    if not settings.redis_url:
        fail("`switchboard worker` needs SWITCHBOARD_REDIS_URL")
    if check:
        raise SystemExit(0 if asyncio.run(check_health(settings)) else 1)
    run_worker(settings)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--workspace", required=True, help="Target workspace (created if missing).")
@click.option("--collection", default=None, help="Collection name (default: `default`).")
@click.option(
    "--via-worker",
    is_flag=True,
    help="Queue the files as one upload job for the workers (the REST upload path) and follow its progress.",
)
@runs_async
async def ingest(paths: tuple[Path, ...], workspace: str, collection: str | None, via_worker: bool) -> None:
    """Ingest files and folders, with a progress bar."""
    check_slug(workspace)
    if collection:
        check_slug(collection, "collection")
    if via_worker:
        from hub.cli_jobs import ingest_via_worker

        report_job(await ingest_via_worker(load_settings(), list(paths), workspace, collection))
        return
    documents = read_documents(list(paths), collection=collection)
    if not documents:
        fail("no files found")
    async with opened(load_settings()) as services:
        async with services.sessions.begin() as session:
            target = await workspaces.get_or_create(session, workspace)
        with evaluate.progress(err()) as bar:
            task = bar.add_task(f"ingest into {workspace}", total=len(documents))
            results = await ingest_all(
                services.indexer, target, documents, on_progress=lambda b: bar.advance(task, len(b))
            )
    report_ingest(results)


@cli.command()
@click.argument("workspace_name", metavar="WORKSPACE")
@runs_async
async def reindex(workspace_name: str) -> None:
    """Embed a workspace's chunks again with the configured embedding model (after changing it).

    Search keeps working meanwhile: by keyword at once, by meaning as chunks are re-embedded.
    """
    check_slug(workspace_name)
    async with opened(load_settings()) as services:
        async with services.sessions() as session:
            target = await workspaces.get(session, workspace_name)
        with evaluate.progress(err()) as bar:
            task = bar.add_task(f"re-embed {workspace_name}", total=None)
            count = await services.indexer.reindex(
                target, on_progress=lambda done, total: bar.update(task, completed=done, total=total)
            )
    click.echo(f"{count} chunks embedded with {services.embedder.name}")


def report_ingest(results: list[Any]) -> None:
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
        if result.status == "failed":
            err().print(f"[yellow]failed:[/yellow] {result.external_id}: {result.error}")
    click.echo(", ".join(f"{n} {status}" for status, n in sorted(counts.items())))
    if counts.get("failed"):
        raise SystemExit(1)


def report_job(snapshot: dict[str, Any]) -> None:
    for error in snapshot.get("errors", []):
        err().print(f"[yellow]failed:[/yellow] {error['item'] or 'job'}: {error['error']}")
    counts = snapshot.get("counts", {})
    click.echo(
        f"job {snapshot.get('id')} {snapshot.get('status')}: "
        + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    )
    if snapshot.get("status") != "done" or counts.get("failed"):
        raise SystemExit(1)


@cli.command()
@click.argument("question")
@click.option("--workspace", required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the answer object as JSON.")
@runs_async
async def ask(question: str, workspace: str, as_json: bool) -> None:
    """Ask a question of one workspace."""
    async with opened(load_settings()) as services:
        async with services.sessions() as session:
            target = await workspaces.get(session, workspace)
        answer = await services.asker.ask(target, Question(text=question), Asker(platform="cli"))
    click.echo(answer.model_dump_json(indent=2) if as_json else render_answer(answer))


def render_answer(answer: Answer) -> str:
    lines = [answer.answer, ""]
    for c in answer.citations:
        lines.append(f"[{c.n}] {c.title} ({c.document_id}) chars {c.start}-{c.end}")
    lines.append(f"confidence {answer.confidence:.2f} · {answer.mode} · {answer.latency_ms:.0f} ms")
    return "\n".join(lines)


@cli.command("eval")
@click.argument("dataset_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object as the last line of stdout.")
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="Ask only a seeded sample of N queries."
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Keep the index here and reuse it next time (unchanged documents are not re-embedded).",
)
@runs_async
async def eval_command(dataset_dir: Path, as_json: bool, limit: int | None, data_dir: Path | None) -> None:
    """Measure retrieval (and answer) quality on a BEIR-layout folder."""
    for required in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        if not (dataset_dir / required).is_file():
            fail(f"{dataset_dir} has no {required} (expected the BEIR layout)")
    with tempfile.TemporaryDirectory(prefix="switchboard-eval-") as tmp:
        settings = load_settings().model_copy(update={"data_dir": data_dir or Path(tmp)})
        shared_db = settings.database_url is not None
        name = f"eval-{uuid.uuid4().hex[:8]}" if shared_db else "eval"
        async with opened(settings, many_searches=True) as services:
            result = await evaluate.run(
                services, dataset_dir, limit=limit, console=err(), workspace_name=name
            )
            if shared_db:
                await drop_workspace(services, name)
    if as_json:
        click.echo(json.dumps(result))
    else:
        for key, value in result.items():
            click.echo(f"{key:>18}  {value}")


async def drop_workspace(services: Services, name: str) -> None:
    async with services.sessions.begin() as session:
        target = await workspaces.get(session, name)
        await services.vectors.drop(target.uid)
        await workspaces.remove(session, target)


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@runs_async
async def db_upgrade() -> None:
    """Apply every pending migration."""
    from core.db import make_engine

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url())
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    click.echo("database schema is up to date")


for group in (workspace, channel, apikey, user, source, push, *protect_groups):
    cli.add_command(group)


def main() -> None:
    cli(prog_name="switchboard")


if __name__ == "__main__":
    main()
