"""What the benchmarks measure: CPU and memory of the stack's processes, and Temporal actions."""

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import psutil
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent, MarkerRecordedEventAttributes
from temporalio.client import Client

ROLES = ("api", "worker", "temporal", "sim")

ACTION_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: "workflow starts",
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activities",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: "signals",
    EventType.EVENT_TYPE_TIMER_STARTED: "timers",
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: "upserts",
    EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: "child starts",
    EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: "signals sent",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: "updates",
}
"""History events that Temporal Cloud bills as an action. Local activities are counted apart:
one per workflow task that ran any (as Temporal Cloud bills them); patch markers are listed
but not counted as actions, nor are their upserts of `TemporalChangeVersion` alone, which
Temporal Cloud exempts (docs.temporal.io/cloud/actions, "Search Attribute upsert requested")."""
VERSIONING_ATTRIBUTE = "TemporalChangeVersion"


def role_of(process: psutil.Process) -> str | None:
    """Which part of the stack a process is, from its command line."""
    try:
        argv = process.cmdline()
    except psutil.Error:
        return None
    if len(argv) > 1 and argv[0].endswith("temporal") and argv[1] == "server":
        return "temporal"
    if "trunkline.cli" in argv:
        command = argv[argv.index("trunkline.cli") + 1]
        return command if command in ROLES else None
    return None


@dataclass
class Snapshot:
    """CPU seconds and resident memory (bytes) per role, at one moment."""

    cpu: dict[str, float]
    rss: dict[str, int]

    @classmethod
    def of(cls, processes: Iterable[psutil.Process]) -> "Snapshot":
        cpu: Counter[str] = Counter()
        rss: Counter[str] = Counter()
        for process in processes:
            role = role_of(process)
            if role is None:
                continue
            with process.oneshot():
                times = process.cpu_times()
                cpu[role] += times.user + times.system
                rss[role] += process.memory_info().rss
        return cls(dict(cpu), dict(rss))

    @classmethod
    def of_tree(cls, root_pid: int) -> "Snapshot":
        root = psutil.Process(root_pid)
        return cls.of([root, *root.children(recursive=True)])

    def minus(self, earlier: "Snapshot") -> "Snapshot":
        return Snapshot(
            {k: v - earlier.cpu.get(k, 0.0) for k, v in self.cpu.items()},
            {k: v - earlier.rss.get(k, 0) for k, v in self.rss.items()},
        )


@dataclass
class HistoryCounts:
    """What the histories of some workflows hold."""

    workflows: int = 0
    actions: Counter[str] = field(default_factory=Counter)
    patch_markers: int = 0
    workflow_tasks: int = 0
    failed_workflow_tasks: int = 0
    """Refused completions (a signal came while a task that completes the workflow ran): each
    is run again, its local activities too."""
    local_activities: int = 0
    events: int = 0
    activity_types: Counter[str] = field(default_factory=Counter)
    """Activities and local activities by type ("local " before a local one's)."""


async def count_histories(client: Client, query: str = "") -> HistoryCounts:
    """Actions by kind, and the work behind them, over every workflow the query lists."""
    counts = HistoryCounts()
    async for execution in client.list_workflows(query):
        counts.workflows += 1
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        tasks_with_local_activities: set[int] = set()
        task = 0
        async for event in handle.fetch_history_events():
            counts.events += 1
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                task = event.event_id
                counts.workflow_tasks += 1
            elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                counts.failed_workflow_tasks += 1
            elif event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
                marker = event.marker_recorded_event_attributes
                if marker.marker_name == "core_local_activity":
                    tasks_with_local_activities.add(task)
                    counts.local_activities += 1
                    counts.activity_types["local " + _local_activity_type(marker)] += 1
                else:
                    counts.patch_markers += 1
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                scheduled = event.activity_task_scheduled_event_attributes
                counts.activity_types[scheduled.activity_type.name] += 1
            kind = ACTION_EVENTS.get(event.event_type)
            if kind and not _versioning_only(event):
                counts.actions[kind] += 1
        counts.actions["workflow tasks with local activities"] += len(tasks_with_local_activities)
    return counts


def _local_activity_type(marker: MarkerRecordedEventAttributes) -> str:
    """The activity type a local activity's marker names in its JSON `data`."""
    return json.loads(marker.details["data"].payloads[0].data).get("activity_type", "?")


def _versioning_only(event: HistoryEvent) -> bool:
    """An upsert of the patch-versioning attribute alone (not billed)."""
    if event.event_type != EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
        return False
    attributes = event.upsert_workflow_search_attributes_event_attributes.search_attributes
    return set(attributes.indexed_fields) == {VERSIONING_ATTRIBUTE}
