"""`switchboard source add|list|sync|remove` as users run it (a real subprocess on a real data dir)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.e2e.test_cli import run

pytestmark = pytest.mark.slow  # six CLI processes, each loading the app


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    return {**clean, "SWITCHBOARD_DATA_DIR": str(tmp_path / "var")}


def test_source_add_list_sync_remove(env: dict[str, str], tmp_path: Path) -> None:
    run(["workspace", "create", "ops"], env)
    config = json.dumps({"urls": ["https://intranet.example.com/handbook"]})
    secret_env = {**env, "WEB_SECRET": json.dumps({"headers": {"Authorization": "Bearer very-secret"}})}
    added = run(
        ["source", "add", "--workspace", "ops", "--type", "web", "--name", "handbook", "--config", config,
         "--secret-env", "WEB_SECRET", "--refresh", "3600"],
        secret_env,
    )  # fmt: skip
    assert "added source" in added.stdout
    listed = json.loads(run(["source", "list", "--workspace", "ops", "--json"], env).stdout)
    assert (
        listed[0]["name"] == "handbook"
        and listed[0]["has_secret"]
        and listed[0]["refresh_interval_s"] == 3600
    )
    assert "very-secret" not in json.dumps(listed)
    assert "very-secret" not in (tmp_path / "var" / "switchboard.db").read_bytes().decode("latin-1")
    bad = run(
        [
            "source",
            "add",
            "--workspace",
            "ops",
            "--type",
            "web",
            "--name",
            "x",
            "--config",
            '{"urls": ["ftp://x"]}',
        ],
        env,
        ok=False,
    )
    assert bad.returncode == 1 and "only http and https" in bad.stderr
    no_queue = run(["source", "sync", "--workspace", "ops", "handbook"], env, ok=False)
    assert no_queue.returncode == 1 and "serve" in no_queue.stderr
    assert (
        "removed source handbook" in run(["source", "remove", "--workspace", "ops", "handbook"], env).stdout
    )
    assert json.loads(run(["source", "list", "--workspace", "ops", "--json"], env).stdout) == []
