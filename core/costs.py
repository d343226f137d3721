"""Cost ledger: every LLM call's tokens and USD, and the monthly budget of each workspace."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import func, select

from core.db import Sessions
from core.events import BudgetExceeded, EventBus
from core.llm import Completion
from core.models import Asker
from core.tables import LLMCall, Workspace, WorkspaceBudget


def month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


class CostLedger:
    def __init__(
        self,
        sessions: Sessions,
        events: EventBus,
        *,
        default_monthly_usd: float | None = None,
        on_record: Callable[[Completion], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self._events = events
        self._default = default_monthly_usd
        self._on_record = on_record  # a metrics port: tokens and cost of every recorded call

    async def record(self, workspace: Workspace, asker: Asker, completion: Completion, purpose: str) -> None:
        if self._on_record is not None:
            self._on_record(completion)
        async with self._sessions.begin() as session:
            session.add(
                LLMCall(
                    workspace_id=workspace.id,
                    platform=asker.platform,
                    channel_id=asker.channel_id,
                    user_id=asker.user_id,
                    provider=completion.provider,
                    model=completion.model,
                    purpose=purpose,
                    input_tokens=completion.input_tokens,
                    output_tokens=completion.output_tokens,
                    cost_usd=completion.cost_usd,
                )
            )

    async def spent(self, workspace: Workspace, now: datetime | None = None) -> float:
        since = month_start(now or datetime.now(UTC))
        async with self._sessions() as session:
            total = await session.scalar(
                select(func.coalesce(func.sum(LLMCall.cost_usd), 0.0)).where(
                    LLMCall.workspace_id == workspace.id, LLMCall.created_at >= since
                )
            )
        return float(total or 0.0)

    async def set_budget(self, workspace: Workspace, monthly_usd: float) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(WorkspaceBudget, workspace.id)
            if row is None:
                session.add(WorkspaceBudget(workspace_id=workspace.id, monthly_usd=monthly_usd))
            else:
                row.monthly_usd, row.notified_month = monthly_usd, None

    async def allows(self, workspace: Workspace) -> bool:
        """False once this month's spend reached the budget; the first refusal tells the admins."""
        async with self._sessions() as session:
            row = await session.get(WorkspaceBudget, workspace.id)
        budget = row.monthly_usd if row is not None else self._default
        if budget is None:
            return True
        now = datetime.now(UTC)
        spent = await self.spent(workspace, now)
        if spent < budget:
            return True
        await self._notify(workspace, now.strftime("%Y-%m"), spent, budget)
        return False

    async def _notify(self, workspace: Workspace, month: str, spent: float, budget: float) -> None:
        async with self._sessions.begin() as session:
            row = await session.get(WorkspaceBudget, workspace.id)
            if row is None:
                row = WorkspaceBudget(workspace_id=workspace.id, monthly_usd=budget)
                session.add(row)
            if row.notified_month == month:
                return
            row.notified_month = month
        await self._events.publish(BudgetExceeded(workspace.name, month, round(spent, 6), budget))
