"""The agent of a call: greets with the first message, speaks by the call's rules, follows
what Trunkline tells it about transfers, and reprompts (then hangs up on) a silent line."""

import asyncio
import logging
from collections.abc import AsyncIterable, Awaitable, Callable
from typing import Any

from livekit.agents import Agent, ModelSettings, UserStateChangedEvent

from trunkline.agent.config import SessionConfig
from trunkline.agent.speech import rewriter, rewritten
from trunkline.agent.tools import CallTools

logger = logging.getLogger(__name__)

TRANSFER_TOPIC = "trunkline.transfer"
"""The LiveKit data topic Trunkline's worker tells the call's agent about transfers on."""
TAKE_MESSAGE_HINT = "Use the take_message tool to send the message."

HoldMusic = Callable[[bool], Awaitable[None]]
"""Starts (True) or stops (False) music while the caller holds; a no-op without a room."""


async def no_hold_music(_on: bool) -> None:
    """Without a room to play into, holding is silent."""


class CallAgent(Agent):
    def __init__(
        self, config: SessionConfig, tools: CallTools, hold_music: HoldMusic = no_hold_music
    ) -> None:
        super().__init__(instructions=config.instructions, tools=tools.all())
        self._config = config
        self._call_tools = tools
        self._hold_music = hold_music
        self._rewrite = rewriter(
            config.pronunciation, config.replacements, ssml=config.tts.provider == "elevenlabs"
        )
        self._reprompts = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def on_enter(self) -> None:
        """Greet with the call's first message, or let the model open the conversation."""
        if self._config.first_message:
            self.session.say(self._config.first_message)
        else:
            self.session.generate_reply()
        if self._config.idle:
            self.session.on("user_state_changed", self._on_user_state)

    def tts_node(self, text: AsyncIterable[str], model_settings: ModelSettings) -> Any:
        """Say the text with the call's pronunciation and text replacement rules applied."""
        if self._rewrite is not None:
            text = rewritten(text, self._rewrite)
        return Agent.default.tts_node(self, text, model_settings)

    # --- transfers -------------------------------------------------------------------------

    async def on_notice(self, notice: dict[str, Any]) -> None:
        """Act on a `trunkline.transfer` message: hold, back from a transfer, take a message."""
        kind = notice.get("type")
        instructions = notice.get("instructions") or ""
        if kind == "transfer.hold":
            self.session.generate_reply(instructions=instructions)
            await self._hold_music(True)
        elif kind in ("transfer.returned", "transfer.failed"):
            await self._hold_music(False)
            self.session.generate_reply(instructions=instructions)
        elif kind == "transfer.take_message":
            await self._hold_music(False)
            self._call_tools.message_for_transfer = notice.get("transferId")
            self.session.generate_reply(instructions=f"{instructions} {TAKE_MESSAGE_HINT}")
        else:
            logger.info("ignoring transfer notice %r", kind)

    # --- a silent line ---------------------------------------------------------------------

    def _on_user_state(self, event: UserStateChangedEvent) -> None:
        if event.new_state == "speaking":
            self._reprompts = 0
        elif event.new_state == "away":
            task = asyncio.create_task(self._reprompt())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _reprompt(self) -> None:
        """Say the next idle message and listen again; after the last, end the call if asked."""
        idle = self._config.idle
        assert idle is not None
        if self._reprompts < idle.max_reprompts:
            message = idle.messages[self._reprompts % len(idle.messages)]
            self._reprompts += 1
            await self.session.say(message).wait_for_playout()
            self.session.reset_away_timer()
        elif idle.end_call_after_max:
            await self._call_tools.end("idle")
