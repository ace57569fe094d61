"""Posts what is said to Trunkline as it is said: one transcript entry per conversation item,
its id the item's, so a repeat (a retry, a reconnect) is stored once."""

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from livekit.agents import AgentSession, ConversationItemAddedEvent, llm

from trunkline.agent.api_client import AgentApiError, TranscriptEntry, TrunklineClient

logger = logging.getLogger(__name__)

ROLES = {"assistant": "agent", "user": "user"}


class TranscriptRecorder:
    """Queues the session's spoken messages and posts them in order, one request at a time."""

    def __init__(self, client: TrunklineClient) -> None:
        self._client = client
        self._queue: asyncio.Queue[TranscriptEntry] = asyncio.Queue()
        self._task = asyncio.create_task(self._post_all())

    def attach(self, session: AgentSession) -> None:
        session.on("conversation_item_added", self._on_item)

    def _on_item(self, event: ConversationItemAddedEvent) -> None:
        entry = transcript_entry(event.item)
        if entry is not None:
            self._queue.put_nowait(entry)

    async def flush(self) -> None:
        """Return once every entry queued so far has been posted (or given up)."""
        await self._queue.join()

    async def aclose(self) -> None:
        await self.flush()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _post_all(self) -> None:
        while True:
            entry = await self._queue.get()
            try:
                await self._client.transcript([entry])
            except (AgentApiError, OSError) as exc:
                logger.error("transcript entry %s was not stored: %s", entry.id, exc)
            except Exception:
                logger.exception("transcript entry %s was not stored", entry.id)
            finally:
                self._queue.task_done()


def transcript_entry(item: llm.ChatItem) -> TranscriptEntry | None:
    """A spoken message as a transcript entry; tool calls, handoffs and silence are not."""
    if not isinstance(item, llm.ChatMessage) or item.role not in ROLES:
        return None
    text = (item.text_content or "").strip()
    if not text:
        return None
    started = (item.metrics.get("started_speaking_at") if item.metrics else None) or (
        item.created_at
    )
    stopped = item.metrics.get("stopped_speaking_at") if item.metrics else None
    return TranscriptEntry(
        id=item.id,
        role=ROLES[item.role],
        text=text,
        started_at=_instant(started),
        ended_at=_instant(stopped),
    )


def _instant(timestamp: float | None) -> str | None:
    return datetime.fromtimestamp(timestamp, UTC).isoformat() if timestamp else None
