"""LLM router: ordered OpenAI-compatible providers, streamed, with failover and a breaker per provider.

A provider is skipped while its breaker is open: after ``failures_to_open`` consecutive failures, or
for the ``Retry-After`` a 429 asked for. Once the cool-down passes one call may try it again (half-open);
a success closes the breaker. When every provider fails the router raises ``AllProvidersFailed`` and the
caller falls back to the extractive answer.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import httpx2
import openai
from openai.types.chat import ChatCompletionMessageParam

from core.errors import TransientError

Tier = Literal["cheap", "strong"]


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    name: str
    base_url: str
    api_key: str
    model: str
    input_usd_per_mtok: float = 0.0
    output_usd_per_mtok: float = 0.0
    timeout_s: float = 30.0
    tier: Tier = "strong"
    stream: bool = True  # False for endpoints that only answer in one piece

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_usd_per_mtok + output_tokens * self.output_usd_per_mtok) / 1e6


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float


class AllProvidersFailed(TransientError):
    """No provider answered; ``errors`` says why each one did not."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("every LLM provider failed: " + "; ".join(errors) if errors else "no LLM provider")
        self.errors = errors


@dataclass
class Breaker:
    """Consecutive-failure circuit breaker for one provider."""

    failures_to_open: int = 3
    cool_down_s: float = 30.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    open_until: float = 0.0

    def available(self) -> bool:
        return self.clock() >= self.open_until

    def success(self) -> None:
        self.failures = 0
        self.open_until = 0.0

    def failure(self, retry_after_s: float | None = None) -> None:
        self.failures += 1
        if retry_after_s is not None:
            self.open_until = max(self.open_until, self.clock() + retry_after_s)
        elif self.failures >= self.failures_to_open:
            self.open_until = self.clock() + self.cool_down_s

    @property
    def state(self) -> str:
        return "open" if not self.available() else ("half-open" if self.open_until else "closed")


def retry_after(error: openai.APIStatusError) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds form), or None."""
    value = error.response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


@dataclass
class Provider:
    config: ProviderConfig
    client: openai.AsyncOpenAI
    breaker: Breaker = field(default_factory=Breaker)


class LLMRouter:
    def __init__(
        self, configs: Sequence[ProviderConfig], *, failures_to_open: int = 3, cool_down_s: float = 30.0
    ) -> None:
        self.providers = [
            Provider(
                c,
                openai.AsyncOpenAI(base_url=c.base_url, api_key=c.api_key or "none", max_retries=0),
                Breaker(failures_to_open=failures_to_open, cool_down_s=cool_down_s),
            )
            for c in configs
        ]

    @property
    def configured(self) -> bool:
        return bool(self.providers)

    def order(self, tier: Tier | None) -> list[Provider]:
        """Providers of the wanted tier first, the rest after (each group in configured order)."""
        if tier is None:
            return list(self.providers)
        return sorted(self.providers, key=lambda p: p.config.tier != tier)

    async def complete(
        self, messages: list[ChatCompletionMessageParam], *, tier: Tier | None = None, max_tokens: int = 700
    ) -> Completion:
        errors: list[str] = []
        for provider in self.order(tier):
            if not provider.breaker.available():
                errors.append(f"{provider.config.name}: circuit open")
                continue
            try:
                async with asyncio.timeout(provider.config.timeout_s):
                    completion = await self._stream(provider, messages, max_tokens)
            except (openai.APIError, httpx2.TransportError, TimeoutError) as exc:
                # Other 4xx (a bad key, an unknown model) fail over too: one broken provider must not
                # take answers down; the breaker then keeps it out of the way.
                wait = retry_after(exc) if isinstance(exc, openai.APIStatusError) else None
                provider.breaker.failure(wait)
                errors.append(f"{provider.config.name}: {type(exc).__name__}")
                continue
            provider.breaker.success()
            return completion
        raise AllProvidersFailed(errors)

    @staticmethod
    async def _stream(
        provider: Provider, messages: list[ChatCompletionMessageParam], max_tokens: int
    ) -> Completion:
        c = provider.config
        if not c.stream:
            return await LLMRouter._whole(provider, messages, max_tokens)
        stream = await provider.client.chat.completions.create(
            model=c.model,
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=max_tokens,
            temperature=0,
            timeout=c.timeout_s,
        )
        parts: list[str] = []
        input_tokens = output_tokens = 0
        model = c.model
        async for chunk in stream:
            model = chunk.model or model
            if chunk.usage is not None:
                input_tokens, output_tokens = chunk.usage.prompt_tokens, chunk.usage.completion_tokens
            parts.extend(choice.delta.content or "" for choice in chunk.choices)
        return Completion(
            "".join(parts), c.name, model, input_tokens, output_tokens, c.cost(input_tokens, output_tokens)
        )

    @staticmethod
    async def _whole(
        provider: Provider, messages: list[ChatCompletionMessageParam], max_tokens: int
    ) -> Completion:
        c = provider.config
        response = await provider.client.chat.completions.create(
            model=c.model, messages=messages, max_tokens=max_tokens, temperature=0, timeout=c.timeout_s
        )
        text = response.choices[0].message.content or "" if response.choices else ""
        used = response.usage
        input_tokens, output_tokens = (used.prompt_tokens, used.completion_tokens) if used else (0, 0)
        cost = c.cost(input_tokens, output_tokens)
        return Completion(text, c.name, response.model or c.model, input_tokens, output_tokens, cost)

    async def close(self) -> None:
        for provider in self.providers:
            await provider.client.close()
