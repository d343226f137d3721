"""`switchboard serve --demo` with nothing configured: embedded Valkey, Chroma, worker; real HTTP."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.runtime import free_port

DEMO_DOCUMENTS = 36


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env["SWITCHBOARD_DATA_DIR"] = str(tmp_path / "var")
    with (tmp_path / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "serve", "--demo", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    base = f"http://127.0.0.1:{port}"
    runtime = tmp_path / "var" / "runtime.json"
    try:
        wait_ready(base, process, tmp_path / "serve.log")
        embedded = json.loads(runtime.read_text())
        yield base, env
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert process.returncode == 0, (tmp_path / "serve.log").read_text()[-3000:]
    assert not runtime.exists()  # SIGTERM stops the embedded services too
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{embedded['chroma_url']}/api/v2/heartbeat", timeout=2)


def wait_ready(base: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"serve not ready: {log.read_text()[-3000:]}")


def cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_serve_demo_embedded_runtime_answers_over_rest(
    served: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    base, env = served
    demo_owner_signs_in(base, (tmp_path / "serve.log").read_text())
    ready = httpx.get(f"{base}/readyz").json()
    assert ready["checks"] == {"database": "ok", "index": "ok", "redis": "ok"}
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # the worker child loads the demo corpus in the background
        if f"demo\t{DEMO_DOCUMENTS} documents" in cli(env, "workspace", "list"):
            break
        time.sleep(2)
    else:
        raise AssertionError("the demo corpus did not load")
    key = cli(env, "apikey", "create", "--workspace", "demo").strip()
    response = httpx.post(
        f"{base}/api/v1/workspaces/demo/ask",
        json={"question": "What is the hotel limit in London?"},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    assert response.status_code == 200
    answer = response.json()
    assert not answer["abstained"]
    assert "250" in answer["answer"]
    assert answer["citations"][0]["document_id"] == "travel/travel-policy.pdf"
    # one-shot commands share the running servers instead of opening the embedded store twice
    asked = json.loads(cli(env, "ask", "Who do I page for a SEV1?", "--workspace", "demo", "--json"))
    assert asked["citations"][0]["document_id"].startswith("oncall/")


def demo_owner_signs_in(base: str, log: str) -> None:
    """`serve --demo` prints the demo owner's credentials once; they open /admin."""
    found = re.search(r"demo owner for /admin: (\S+) password (\S+)", log)
    assert found is not None, log[-2000:]
    with httpx.Client(base_url=base, timeout=30) as http:
        csrf = re.search(r'name="csrf" value="([^"]+)"', http.get("/admin/login").text)
        assert csrf is not None
        form = {"email": found.group(1), "password": found.group(2), "csrf": csrf.group(1)}
        signed = http.post("/admin/login", data=form)
        assert signed.status_code == 303 and "sb_session" in http.cookies
        assert "demo" in http.get("/admin").text
