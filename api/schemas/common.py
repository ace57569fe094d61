"""Shapes shared by every resource: response bodies and paginated lists."""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, Self, TypeVar

from fastapi import Query
from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

Item = TypeVar("Item")


class ResponseModel(BaseModel):
    """A response body: camelCase on the wire, built by field name in code."""

    model_config = ConfigDict(
        alias_generator=to_camel, serialize_by_alias=True, validate_by_name=True
    )


class SnakeResponseModel(BaseModel):
    """A response body of a resource the Speko SDK reads in snake_case: calls, their events,
    reports and transfers, and callbacks."""

    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True)


class Page(ResponseModel, Generic[Item]):
    """One page of a list, newest first; pass `nextCursor` as `cursor` to read on."""

    @classmethod
    def of(
        cls, rows: Sequence[Any], next_cursor: str | None, convert: Callable[[Any], Item]
    ) -> Self:
        """The page holding `rows`, each converted to its response shape."""
        return cls(
            data=[convert(row) for row in rows],
            has_more=next_cursor is not None,
            next_cursor=next_cursor,
        )

    data: list[Item]
    has_more: bool
    next_cursor: str | None


def _exists_in_utc(value: datetime) -> datetime:
    """Refuse a time with no UTC equivalent (`9999-12-31T23:59-14:00`): it is stored in UTC."""
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must be a time between the years 1 and 9999 in UTC") from None
    return value


InUtc = AfterValidator(_exists_in_utc)
Instant = Annotated[datetime, InUtc]
"""A time given in a request: it must exist in UTC, where every time is stored and compared."""

PageLimit = Annotated[int, Query(ge=1, le=100, description="Items per page.")]
PageCursor = Annotated[
    str | None,
    Query(
        pattern=r"^[a-z]+_[0-9A-HJKMNP-TV-Z]{26}$", description="`nextCursor` of the previous page."
    ),
]
