"""Workflow histories as the replay suite keeps them (tests/histories/*.json): the gate that a
new worker version still replays the workflows the running one started."""

import json
from pathlib import Path

from temporalio.client import Client, WorkflowHistory


def as_recorded(history: WorkflowHistory) -> str:
    """The history in the replay suite's format: `{"workflowId", "history"}`."""
    recorded = {"workflowId": history.workflow_id, "history": json.loads(history.to_json())}
    return json.dumps(recorded, indent=1)


def from_recorded(text: str) -> WorkflowHistory:
    recorded = json.loads(text)
    return WorkflowHistory.from_json(recorded["workflowId"], recorded["history"])


async def export(client: Client, workflow_id: str, path: Path) -> None:
    """Write the workflow's history (its latest run) to `path`, which must not exist yet: a
    recorded history is never rewritten."""
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    with path.open("x") as file:
        file.write(as_recorded(history))
