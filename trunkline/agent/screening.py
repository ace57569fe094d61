"""The screening agent of a warm transfer: on the consultation leg it briefs the person being
called with the call summary, asks whether they can take the caller, and reports their answer
(complete / decline), or voicemail, through the agent endpoints."""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from livekit.agents import Agent, RunContext, ToolError, function_tool

from trunkline.agent.api_client import AgentApiError, TrunklineClient
from trunkline.agent.dispatch import ScreeningDispatch

logger = logging.getLogger(__name__)

DEFAULT_SCREENING_PROMPT = "Confirm the person can help the caller before connecting them."
ROLE = (
    "You are an assistant on a phone call with {who}, asking whether they can take a caller "
    "who is waiting on hold. Be brief. {prompt}\n\n"
    "When they agree to take the call, call accept_transfer. When they cannot or will not, "
    "call decline_transfer with their reason. When you reach voicemail or an answering "
    "machine instead of a person, call report_voicemail and say nothing more."
)


def briefing(dispatch: ScreeningDispatch) -> str:
    """What the screener says first: who is waiting, and what about."""
    summary = (dispatch.call_summary or "").strip()
    about = f" {summary}" if summary else ""
    return f"Hello, I have a caller waiting to be connected to you.{about} Can you take the call?"


class ScreeningAgent(Agent):
    def __init__(self, dispatch: ScreeningDispatch, client: TrunklineClient) -> None:
        who = dispatch.destination.label or dispatch.destination.to
        prompt = dispatch.screening_prompt or DEFAULT_SCREENING_PROMPT
        super().__init__(instructions=ROLE.format(who=who, prompt=prompt))
        self._dispatch = dispatch
        self._client = client
        self.decided: str | None = None
        """`accepted`, `declined` or `voicemail` once reported to Trunkline."""

    @property
    def detects_voicemail(self) -> bool:
        detection = self._dispatch.voicemail_detection
        return detection is not None and detection.enabled and detection.mode == "agent"

    async def on_enter(self) -> None:
        self.session.say(briefing(self._dispatch))

    @function_tool
    async def accept_transfer(self, context: RunContext) -> None:
        """The person agreed to take the call: connect the caller now."""
        await context.wait_for_playout()
        await self._report("accepted", lambda: self._client.complete(self._dispatch.transfer_id))

    @function_tool
    async def decline_transfer(self, context: RunContext, reason: str) -> str:
        """The person cannot or will not take the call.

        Args:
            reason: Why, in a few words (e.g. "in a meeting").
        """
        transfer = self._dispatch.transfer_id
        await self._report("declined", lambda: self._client.decline(transfer, reason))
        return "Declined. Thank them briefly and say goodbye."

    @function_tool
    async def report_voicemail(self, context: RunContext) -> None:
        """Voicemail or an answering machine picked up, not a person."""
        if not self.detects_voicemail:
            raise ToolError("voicemail detection is off for this transfer; ask for a person")
        transfer = self._dispatch.transfer_id
        await self._report("voicemail", lambda: self._client.voicemail(transfer, "machine"))

    async def _report(
        self, decision: str, request: Callable[[], Awaitable[dict[str, Any]]]
    ) -> None:
        """Send a decision once; a refusal (the transfer moved on) is told to the model."""
        if self.decided is not None:
            raise ToolError(f"already reported: {self.decided}")
        try:
            await request()
        except AgentApiError as exc:
            raise ToolError(f"Trunkline refused: {exc.message}") from exc
        self.decided = decision
        logger.info("transfer %s: %s", self._dispatch.transfer_id, decision)
