"""What an organization's calls used and cost over a window, from their reports' cost breakdowns."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trunkline.models import Call, CallReport


@dataclass
class ItemUsage:
    """One line of the cost breakdown (`telephony`, `stt`, …) summed over the calls."""

    item: str
    minutes: float = 0.0
    amount: float = 0.0


@dataclass
class Usage:
    calls: int = 0
    talk_seconds: float = 0.0
    billed_seconds: float = 0.0
    """The talk time charged at the per-minute rate: the telephony line's rounded minutes."""
    items: dict[str, ItemUsage] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return round(sum(item.amount for item in self.items.values()), 6)

    def add(self, breakdown: dict[str, Any]) -> None:
        """Count one call's latest cost breakdown in."""
        self.talk_seconds += breakdown.get("talk_seconds", 0)
        for line in breakdown.get("items", []):
            item = self.items.setdefault(line["item"], ItemUsage(line["item"]))
            item.minutes += line["minutes"]
            item.amount = round(item.amount + line["amount"], 6)
            if line["item"] == "telephony":
                self.billed_seconds += line["minutes"] * 60


async def usage(
    session: AsyncSession, organization_id: str, start: datetime, end: datetime
) -> Usage:
    """Calls created in [start, end), and the latest report of each that has one."""
    window = (
        Call.organization_id == organization_id,
        col(Call.created_at) >= start,
        col(Call.created_at) < end,
    )
    count = (await session.exec(select(func.count()).select_from(Call).where(*window))).one()
    reports = select(CallReport.call_id, CallReport.cost_breakdown).where(
        col(CallReport.call_id).in_(select(Call.id).where(*window))
    )
    latest: dict[str, dict[str, Any]] = {}
    for call_id, breakdown in await session.exec(reports.order_by(col(CallReport.version))):
        latest[call_id] = breakdown
    summary = Usage(calls=count)
    for breakdown in latest.values():
        summary.add(breakdown)
    return summary
