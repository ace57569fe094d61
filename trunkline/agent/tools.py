"""The call agent's tools: the built-in `transfer_call`, `end_call` and `take_message`, and the
agent's own webhook tools. Each goes through Trunkline's agent endpoints (or, for a webhook
tool, to its URL); a refusal comes back to the model as a `ToolError` it can explain."""

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from livekit.agents import RunContext, ToolError, function_tool, llm

from trunkline.agent.api_client import AgentApiError, TrunklineClient
from trunkline.agent.config import SessionConfig
from trunkline.agent.dispatch import CallDispatch
from trunkline.ids import new_id
from trunkline.pipeline import FunctionTool, TransferCallTool
from trunkline.webhooks.client import WebhookClient
from trunkline.webhooks.signing import signature_headers

logger = logging.getLogger(__name__)

TRANSFER_DESCRIPTION = (
    "Transfer the caller to a person when they ask for a human or need help you cannot give. "
    "Say nothing after calling it: you will be told how the transfer goes."
)
END_CALL_DESCRIPTION = (
    "End the call once the conversation is over and you have said goodbye, or when the person "
    "asks you to hang up."
)
TAKE_MESSAGE_DESCRIPTION = (
    "Save a message for someone who could not take the call: what it is about, and the "
    "caller's name and a number to call back when they give them."
)


@dataclass
class CallTools:
    """What the tools act on: the call, Trunkline, and the transfer a message is taken for."""

    dispatch: CallDispatch
    config: SessionConfig
    client: TrunklineClient
    webhooks: WebhookClient
    message_for_transfer: str | None = None

    def all(self) -> list[llm.Tool]:
        """Every tool this call's agent may use."""
        tools = [self._end_call(), self._take_message()]
        if self.config.transfer is not None:
            tools.append(self._transfer_call(self.config.transfer))
        tools += [self._webhook_tool(t) for t in self.config.functions if t.url]
        return tools

    # --- built-in --------------------------------------------------------------------------

    def _transfer_call(self, tool: TransferCallTool) -> llm.Tool:
        names = {d.label or d.to: d.to for d in tool.destinations}
        schema = _schema(
            "transfer_call",
            tool.description or TRANSFER_DESCRIPTION,
            destination={
                "type": "string",
                "enum": list(names),
                "description": "Who to transfer to; leave out for the first.",
            },
            reason={"type": "string", "description": "Why the caller wants a person."},
        )

        async def transfer_call(raw_arguments: dict[str, Any], context: RunContext) -> None:
            destination = raw_arguments.get("destination")
            await context.wait_for_playout()
            await self._ask(
                self.client.transfer(
                    to=names.get(str(destination)) if destination else None,
                    reason=raw_arguments.get("reason"),
                )
            )

        return function_tool(transfer_call, raw_schema=schema)

    def _end_call(self) -> llm.Tool:
        description = (self.config.end_call and self.config.end_call.description) or (
            END_CALL_DESCRIPTION
        )
        schema = _schema("end_call", description)

        async def end_call(raw_arguments: dict[str, Any], context: RunContext) -> None:
            await context.wait_for_playout()
            await self.end()

        return function_tool(end_call, raw_schema=schema)

    async def end(self, reason: str = "agent") -> None:
        """End the call through Trunkline; one that has ended already is fine."""
        try:
            await self.client.end(reason)
        except AgentApiError as exc:
            if exc.code != "call_ended":
                raise

    def _take_message(self) -> llm.Tool:
        schema = _schema(
            "take_message",
            TAKE_MESSAGE_DESCRIPTION,
            required=("message",),
            message={"type": "string", "description": "The message, in the caller's words."},
            caller_name={"type": "string"},
            callback_number={"type": "string", "description": "In E.164, e.g. +14155550100."},
            recipient={"type": "string", "description": "Who the message is for."},
        )

        async def take_message(raw_arguments: dict[str, Any], context: RunContext) -> str:
            await self._ask(
                self.client.take_message(
                    message=raw_arguments["message"],
                    callerName=raw_arguments.get("caller_name"),
                    callbackNumber=raw_arguments.get("callback_number") or self.dispatch.party,
                    recipient=raw_arguments.get("recipient"),
                    transferId=self.message_for_transfer,
                )
            )
            return "The message is saved. Tell the caller it will be passed on."

        return function_tool(take_message, raw_schema=schema)

    async def _ask(self, request: Any) -> dict[str, Any]:
        """Await a request to Trunkline; a refusal becomes an error the model explains."""
        try:
            return await request
        except AgentApiError as exc:
            raise ToolError(f"that did not work: {exc.message}") from exc

    # --- the agent's own -------------------------------------------------------------------

    def _webhook_tool(self, tool: FunctionTool) -> llm.Tool:
        """A tool whose arguments are posted to its URL; the answer is the tool's result."""
        schema = {
            "name": tool.name,
            "description": tool.description or "",
            "parameters": tool.parameters,
        }

        async def call_webhook(raw_arguments: dict[str, Any], context: RunContext) -> str:
            return await self.post_tool_call(tool, raw_arguments)

        return function_tool(call_webhook, raw_schema=schema)

    async def post_tool_call(self, tool: FunctionTool, arguments: dict[str, Any]) -> str:
        """POST `{type: tool.call, ...}` to the tool's URL (signed when it has a secret)."""
        body = json.dumps(
            {
                "type": "tool.call",
                "tool": tool.name,
                "call_id": self.dispatch.session_id,
                "arguments": arguments,
                "metadata": self.dispatch.metadata,
            }
        )
        secret = self.dispatch.tool_secrets.get(tool.name)
        headers = _signed(body, secret) if secret else {}
        result = await self.webhooks.post(str(tool.url), body, headers)
        if not result.succeeded:
            logger.warning("tool %s failed: %s", tool.name, result.error)
            raise ToolError(f"the {tool.name} tool is not available right now")
        return result.response_excerpt or "done"


def _signed(body: str, secret: str) -> dict[str, str]:
    """Standard Webhooks headers for a `whsec_` secret, else the legacy signature header."""
    message_id, now = new_id("msg"), datetime.now(UTC)
    if secret.startswith("whsec_"):
        return signature_headers(message_id, now, body, [secret])
    headers = signature_headers(message_id, now, body, [], legacy_secret=secret)
    return {name: value for name, value in headers.items() if value}  # no empty v1 list


def _schema(
    name: str, description: str, required: tuple[str, ...] = (), **properties: Any
) -> dict[str, Any]:
    """A raw function schema: an object of `properties`, `required` ones named."""
    parameters = {"type": "object", "properties": properties, "required": list(required)}
    return {"name": name, "description": description, "parameters": parameters}
