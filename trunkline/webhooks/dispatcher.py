"""The worker's webhook dispatcher: the first, cheap attempt at every delivery.

Recording a call event stores its deliveries and submits their lanes here. Each lane is sent
from this process at once, one delivery at a time in order, with no workflow involved. The
first failure hands the lane to its `WebhookLaneWorkflow`, which retries it for days. A sweep
hands over lanes that a stopped worker left pending, so nothing waits for a process that died.
"""

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from datetime import timedelta

from temporalio.client import Client

from trunkline.db import Database
from trunkline.models import utcnow
from trunkline.webhooks.deliveries import hand_over, stranded_lanes
from trunkline.webhooks.sender import LaneSender
from trunkline.workflow_io import LaneInput

logger = logging.getLogger(__name__)


class WebhookDispatcher:
    def __init__(
        self,
        database: Database,
        sender: LaneSender,
        client: Client,
        task_queue: str,
        *,
        sweep_every: timedelta = timedelta(seconds=15),
        stranded_after: timedelta = timedelta(seconds=30),
    ) -> None:
        self._database = database
        self._sender = sender
        self._client = client
        self._task_queue = task_queue
        self._sweep_every = sweep_every
        self._stranded_after = stranded_after
        self._pumps: dict[str, asyncio.Task[None]] = {}
        self._resubmitted: set[str] = set()

    def submit(self, lanes: Iterable[str]) -> None:
        """Send these lanes' pending deliveries soon (a lane being sent picks them up)."""
        for lane in lanes:
            if lane in self._pumps:
                self._resubmitted.add(lane)
            else:
                self._pumps[lane] = asyncio.create_task(self._pump(lane), name=f"lane {lane}")

    async def _pump(self, lane: str) -> None:
        """Send the lane's deliveries in order until it is empty, or until one fails and the
        lane goes to its workflow."""
        try:
            while True:  # a lane its workflow owns reads as busy: the workflow sends it
                step = await self._sender.attempt_head(lane, failures=0, unless_durable=True)
                if step.empty or step.busy:
                    if self._take_resubmission(lane):
                        continue
                    return
                if not (step.succeeded or step.gave_up):
                    await self._hand_over(lane, step.wait_seconds)
                    return
                if step.lane_empty and not self._take_resubmission(lane):
                    return  # a delivery stored after this is submitted again, and sent then
        except Exception:  # the sweep hands the lane to its workflow
            logger.exception("webhook lane %s: sending failed", lane)
        finally:
            self._pumps.pop(lane, None)
            self._resubmitted.discard(lane)

    def _take_resubmission(self, lane: str) -> bool:
        """Whether the lane was submitted again while it was being sent (then go on)."""
        if lane in self._resubmitted:
            self._resubmitted.discard(lane)
            return True
        return False

    async def _hand_over(self, lane: str, wait_seconds: float) -> None:
        """The lane's head failed: its workflow retries it, and sends the rest behind it."""
        async with self._database.session() as session:
            await hand_over(
                session,
                self._client,
                self._task_queue,
                LaneInput(lane=lane, failures=1, wait_seconds=wait_seconds),
            )

    async def sweep(self) -> int:
        """Hand every stranded lane to its workflow; returns how many."""
        now = utcnow()
        async with self._database.session() as session:
            lanes = await stranded_lanes(session, now, now - self._stranded_after)
            for lane in lanes:
                if lane not in self._pumps:
                    await hand_over(session, self._client, self._task_queue, LaneInput(lane=lane))
        return len(lanes)

    async def aclose(self, grace: timedelta = timedelta(seconds=10)) -> None:
        """Let attempts in flight finish for a while; any cut short are claimed, then swept."""
        pumps = list(self._pumps.values())
        if pumps:
            await asyncio.wait(pumps, timeout=grace.total_seconds())
        for pump in pumps:
            pump.cancel()
        for pump in pumps:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pump
