"""`switchboard user ...` as users run it (a real subprocess), then the printed password at /admin."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from core.embeddings import MiniLMEmbedder
from hub.app import create_app
from hub.settings import Settings
from tests.support.admin import login
from tests.support.live import serve


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args], env=env, capture_output=True, text=True, timeout=240
    )


async def test_user_create_prints_a_one_time_password_that_signs_in(
    tmp_path: Path, embedder: MiniLMEmbedder
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env["SWITCHBOARD_DATA_DIR"] = str(tmp_path / "var")
    created = run(["user", "create", "Root@Example.com", "--owner"], env)
    assert created.returncode == 0, created.stderr
    match = re.search(r"one-time password: (\S+)", created.stdout)
    assert match is not None and "created owner root@example.com" in created.stdout
    again = run(["user", "create", "root@example.com"], env)
    assert again.returncode == 1 and "already exists" in again.stderr
    assert run(["workspace", "create", "alpha"], env).returncode == 0
    assert run(["user", "create", "ed@example.com"], env).returncode == 0
    role = run(["user", "role", "ed@example.com", "alpha", "editor"], env)
    assert role.returncode == 0, role.stderr
    listed = run(["user", "list"], env).stdout
    assert "root@example.com\towner\tlocal" in listed and "ed@example.com\t-\tlocal" in listed
    app = create_app(Settings(data_dir=tmp_path / "var"), embedder=embedder)
    async with serve(app) as live, httpx.AsyncClient(base_url=live.base_url) as http:
        assert (await login(http, "root@example.com", "wrong")).status_code == 401
        signed = await login(http, "root@example.com", match.group(1))
        assert signed.status_code == 303
        users = await http.get("/admin/users")
        assert users.status_code == 200 and "ed@example.com" in users.text and "alpha: editor" in users.text
