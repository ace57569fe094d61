"""A scripted OpenAI-compatible `/v1/chat/completions` on loopback: a test double of the cloud
LLM at its wire protocol (streamed chunks, tool calls), so the OpenAI plugin runs unchanged.

Each request takes the next scripted reply; with none left it answers "OK.". Every request is
kept, so a test can read what the agent sent (system prompt, tools, tool results).
"""

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse

from tests.servers import serving


@dataclass(frozen=True)
class Reply:
    """What the model says: text, or one call of a tool with its arguments."""

    text: str | None = None
    tool: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)


def say(text: str) -> Reply:
    return Reply(text=text)


def call(tool: str, **arguments: Any) -> Reply:
    return Reply(tool=tool, arguments=arguments)


@dataclass
class ScriptedLLM:
    base_url: str = ""
    replies: list[Reply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def tools_offered(self) -> list[str]:
        """The tool names the last request offered the model."""
        return [t["function"]["name"] for t in self.requests[-1].get("tools", [])]

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def completions(request: Request) -> StreamingResponse:
            self.requests.append(await request.json())
            reply = self.replies.pop(0) if self.replies else say("OK.")
            return StreamingResponse(_events(reply), media_type="text/event-stream")

        return app


def _events(reply: Reply) -> Iterator[str]:
    """The chunks OpenAI streams for `reply`, then the usage and `[DONE]`."""
    if reply.tool:
        call = {
            "index": 0,
            "id": f"call_{reply.tool}",
            "type": "function",
            "function": {"name": reply.tool, "arguments": json.dumps(reply.arguments)},
        }
        yield _chunk({"role": "assistant", "tool_calls": [call]})
        yield _chunk({}, finish="tool_calls")
    else:
        for word in (reply.text or "").split(" "):
            yield _chunk({"role": "assistant", "content": word + " "})
        yield _chunk({}, finish="stop")
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    yield _data({**_head(), "choices": [], "usage": usage})
    yield "data: [DONE]\n\n"


def _head() -> dict[str, Any]:
    return {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": 0, "model": "m"}


def _chunk(delta: dict[str, Any], finish: str | None = None) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return _data({**_head(), "choices": [choice]})


def _data(body: dict[str, Any]) -> str:
    return f"data: {json.dumps(body)}\n\n"


@asynccontextmanager
async def scripted_llm() -> AsyncIterator[ScriptedLLM]:
    """A scripted LLM served on a loopback port; `base_url` is what OPENAI_BASE_URL takes."""
    llm = ScriptedLLM()
    async with serving(llm.app()) as url:
        llm.base_url = f"{url}/v1"
        yield llm
