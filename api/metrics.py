"""The API's own metrics: requests by route template, and the calls open right now."""

import asyncio
import time
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import func
from sqlmodel import col, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trunkline.db import Database
from trunkline.metrics import HTTP_LATENCY, HTTP_REQUESTS
from trunkline.models import Call

UNMATCHED = "<unmatched>"
"""The route label of a request no route took (a 404): raw paths would be unbounded."""

LIVE_STATUSES = ("dialing", "ringing", "in-progress")
SCRAPE_TIMEOUT_SECONDS = 5.0


class HttpMetrics:
    """Count and time every request by method, route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500  # unless the app answers

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            route = getattr(scope.get("route"), "path", UNMATCHED)
            method = scope["method"]
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_LATENCY.labels(method, route).observe(time.perf_counter() - started)


class OpenCalls:
    """`trunkline_calls_live` and `trunkline_calls_queued` by direction, counted in the database
    at each scrape: one grouped count, nothing on a call's own path."""

    def __init__(self, database: Database, loop: asyncio.AbstractEventLoop) -> None:
        self._database = database
        self._loop = loop  # the API's: the scrape runs on the metrics server's thread

    def describe(self) -> list[Metric]:
        return []  # nothing to ask the database when the collector is registered

    def collect(self) -> Iterator[Metric]:
        counts = asyncio.run_coroutine_threadsafe(self._count(), self._loop).result(
            SCRAPE_TIMEOUT_SECONDS
        )
        live = GaugeMetricFamily(
            "trunkline_calls_live", "Calls dialing, ringing or in progress.", labels=["direction"]
        )
        queued = GaugeMetricFamily(
            "trunkline_calls_queued", "Calls not yet dialing or bridged.", labels=["direction"]
        )
        for direction in ("inbound", "outbound"):
            live.add_metric([direction], sum(counts.get((direction, s), 0) for s in LIVE_STATUSES))
            queued.add_metric([direction], counts.get((direction, "queued"), 0))
        yield live
        yield queued

    async def _count(self) -> dict[tuple[str, str], int]:
        statement = (
            select(Call.direction, Call.status, func.count())
            .where(col(Call.status).in_(("queued", *LIVE_STATUSES)))
            .group_by(col(Call.direction), col(Call.status))
        )
        async with self._database.session() as session:
            rows = (await session.exec(statement)).all()
        return {(direction, status): count for direction, status, count in rows}
