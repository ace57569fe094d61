"""Cursor pagination over time-ordered ids, newest first."""

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlmodel import SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

Row = TypeVar("Row", bound=SQLModel)


@dataclass(frozen=True)
class PageOf(Generic[Row]):
    rows: list[Row]
    next_cursor: str | None


async def paginate(
    session: AsyncSession,
    statement: SelectOfScalar[Row],
    id_column: Any,
    limit: int,
    cursor: str | None,
) -> PageOf[Row]:
    """Rows of `statement` below `cursor`, newest first, and the cursor of the next page."""
    if cursor:
        statement = statement.where(col(id_column) < cursor)
    statement = statement.order_by(col(id_column).desc()).limit(limit + 1)
    rows = list((await session.exec(statement)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return PageOf(rows, getattr(rows[-1], id_column.key) if more else None)
