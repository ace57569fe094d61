"""Process logging: lines of text, or (`LOG_FORMAT=json`) one JSON object a line that carries
the workflow, activity and call a record was written for."""

import logging
from typing import Literal

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter
from temporalio import activity, workflow

TEXT_FORMAT = "%(asctime)s %(name)s %(message)s"
JSON_FIELDS = ["levelname", "name", "message"]
JSON_NAMES = {"levelname": "level", "name": "logger"}
NOT_LOGGED = [*RESERVED_ATTRS, "color_message", "temporal_log"]
"""Record attributes left out: uvicorn's coloured copy of the message, and the SDK core's raw
log entry (its fields are in the message already)."""
CALL_WORKFLOW_PREFIX = "call-"


class TemporalContext(logging.Filter):
    """Stamp each record written inside an activity or a workflow with its ids: `workflow_id`,
    `run_id`, `activity_type` or `workflow_type`, and `call_id` for a call's own workflow."""

    def filter(self, record: logging.LogRecord) -> bool:
        if activity.in_activity():
            info = activity.info()
            workflow_id, run_id = info.workflow_id, info.workflow_run_id
            record.activity_type = info.activity_type
        elif workflow.in_workflow():
            found = workflow.info()
            workflow_id, run_id = found.workflow_id, found.run_id
            record.workflow_type = found.workflow_type
        else:
            return True
        record.workflow_id, record.run_id = workflow_id, run_id
        if workflow_id and workflow_id.startswith(CALL_WORKFLOW_PREFIX):
            record.call_id = workflow_id.removeprefix(CALL_WORKFLOW_PREFIX)
        return True


def configure(log_format: Literal["text", "json"], level: int = logging.INFO) -> None:
    """Send every logger's records to standard error in the chosen format."""
    handler = logging.StreamHandler()
    handler.addFilter(TemporalContext())
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                JSON_FIELDS, rename_fields=JSON_NAMES, reserved_attrs=NOT_LOGGED, timestamp="time"
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=level, handlers=[handler], force=True)
