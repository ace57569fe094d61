"""Lists the Speko SDK reads as a bare JSON array: the page is the body, and the address of
the next page travels in a `Link: <…>; rel="next"` header (RFC 8288), as GitHub's API does."""

from typing import Annotated

from fastapi import Query, Request, Response

ArrayLimit = Annotated[
    int,
    Query(
        ge=1, le=1000, description='Items at most; a `Link: <…>; rel="next"` header has the rest.'
    ),
]


def link_next(request: Request, response: Response, next_cursor: str | None) -> None:
    """Point at the page after this one, when there is one."""
    if next_cursor is not None:
        url = request.url.include_query_params(cursor=next_cursor)
        response.headers["Link"] = f'<{url}>; rel="next"'
