"""An OpenAI-compatible chat and embeddings server on 127.0.0.1 that replays ../shared/fixtures/openai.

The fixtures are templates: the assistant's text is replaced by the scripted answer, split into
stream chunks the way the recorded stream splits it; an embedding is a hashed bag of the input's words
(``EMBEDDING_DIM`` wide, L2-normalised), so texts that share words are near each other. A script of
failures is consumed one per request:
``"429"`` (with a ``Retry-After``), ``"500"``, ``"hang"`` (never answers until the server stops).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import hashlib
import json
import math
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from tests.conftest import FIXTURES
from tests.support.live import serve

OPENAI = FIXTURES / "openai"
EMBEDDING_DIM = 64


def bag_of_words(text: str) -> list[float]:
    vector = [0.0] * EMBEDDING_DIM
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        vector[int(hashlib.sha256(word.encode()).hexdigest(), 16) % EMBEDDING_DIM] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def stream_events() -> list[dict[str, Any]]:
    raw = (OPENAI / "chat_completion_stream.sse").read_text()
    return [json.loads(e[6:]) for e in raw.split("\n\n") if e.startswith("data: {")]


@dataclass
class FakeOpenAI:
    answer: str = "I'm unable to help."
    script: list[str] = field(default_factory=list)
    retry_after_s: float = 2.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def app(self) -> FastAPI:
        app = FastAPI()
        app.post("/v1/chat/completions")(self.chat)
        app.post("/v1/embeddings")(self.embeddings)
        return app

    async def embeddings(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        texts = [body["input"]] if isinstance(body["input"], str) else body["input"]
        template: dict[str, Any] = json.loads((OPENAI / "embeddings.json").read_text())
        item = template["data"][0]
        template["data"] = [{**item, "index": i, "embedding": bag_of_words(t)} for i, t in enumerate(texts)]
        template["model"] = body["model"]
        tokens = sum(len(t.split()) for t in texts)
        template["usage"] = {"prompt_tokens": tokens, "total_tokens": tokens}
        return JSONResponse(template)

    async def chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append(body)
        failure = self.script.pop(0) if self.script else "ok"
        if failure == "429":
            error = {
                "error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}
            }
            return JSONResponse(error, status_code=429, headers={"Retry-After": str(self.retry_after_s)})
        if failure == "500":
            return JSONResponse(
                {"error": {"message": "The server had an error", "type": "server_error"}}, 500
            )
        if failure == "hang":
            await self.stopping.wait()
            return Response(status_code=503)
        if body.get("stream"):
            return StreamingResponse(self._sse(body["model"]), media_type="text/event-stream")
        return JSONResponse(self._completion(body["model"]))

    def _completion(self, model: str) -> dict[str, Any]:
        template: dict[str, Any] = json.loads((OPENAI / "chat_completion.json").read_text())
        template["model"] = model
        template["choices"][0]["message"]["content"] = self.answer
        template["usage"].update(self.usage())
        return template

    def usage(self) -> dict[str, int]:
        prompt = sum(len(str(m.get("content", "")).split()) for m in self.requests[-1]["messages"])
        completion = len(self.answer.split())
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    async def _sse(self, model: str) -> AsyncIterator[bytes]:
        events = stream_events()
        first, content, finish, usage = events[0], events[1], events[-2], events[-1]
        pieces = re.findall(r"\S+\s*|\s+", self.answer)
        out = [first]
        for piece in pieces:
            chunk = copy.deepcopy(content)
            chunk["choices"][0]["delta"]["content"] = piece
            out.append(chunk)
        usage = copy.deepcopy(usage)
        usage["usage"].update(self.usage())
        for event in [*out, finish, usage]:
            event["model"] = model
            yield f"data: {json.dumps(event)}\n\n".encode()
        yield b"data: [DONE]\n\n"


@contextlib.asynccontextmanager
async def running(fake: FakeOpenAI) -> AsyncIterator[str]:
    """Serve the fake under uvicorn; yields its OpenAI base URL (``.../v1``)."""
    async with serve(fake.app()) as live:
        try:
            yield f"{live.base_url}/v1"
        finally:
            fake.stopping.set()
