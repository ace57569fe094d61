"""Activities of a durable webhook lane: one attempt at its head, and handing it back."""

from temporalio import activity

from trunkline.db import Database
from trunkline.webhooks.deliveries import release
from trunkline.webhooks.sender import LaneSender
from trunkline.workflow_io import LaneAttemptInput, LaneStep


class WebhookActivities:
    """Bound to the process's database and lane sender when the worker starts."""

    def __init__(self, database: Database, sender: LaneSender) -> None:
        self._database = database
        self._sender = sender

    @activity.defn(name="attempt_lane_head")
    async def attempt_lane_head(self, request: LaneAttemptInput) -> LaneStep:
        """Sign with the organization's current secrets, POST the head once, record it."""
        return await self._sender.attempt_head(request.lane, request.failures)

    @activity.defn(name="release_lane")
    async def release_lane(self, lane: str) -> bool:
        """The lane is empty: the worker sends it again; False if a delivery arrived first."""
        async with self._database.session() as session:
            return await release(session, lane)
