"""The Trunkline worker: one Temporal worker running every workflow and activity.

Run it with `trunkline worker` or `python worker.py`; it reads the same settings as the API.
"""

import asyncio
import logging
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import uvloop
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.callbacks import CallbackActivities
from activities.calls import CallActivities
from activities.reports import ReportActivities
from activities.transfers import TransferActivities
from activities.webhooks import WebhookActivities
from trunkline import logs, tracing
from trunkline.calls.unstarted import fail_unstarted_calls
from trunkline.db import Database
from trunkline.metrics import WORKER_READY, process_telemetry
from trunkline.models import utcnow
from trunkline.providers.livekit import LiveKitAdapter
from trunkline.providers.telnyx import TelnyxAdapter
from trunkline.settings import SettingError, Settings, get_settings
from trunkline.temporal import connect, ensure_search_attributes
from trunkline.webhooks.client import WebhookClient
from trunkline.webhooks.dispatcher import WebhookDispatcher
from trunkline.webhooks.sender import LaneSender
from workflows.call import CallWorkflow
from workflows.callback import CallbackWorkflow
from workflows.reject_inbound import RejectInboundCallWorkflow
from workflows.report import PostCallReportWorkflow
from workflows.warm_transfer import WarmTransferWorkflow
from workflows.webhook_lane import WebhookLaneWorkflow

WORKFLOWS = [
    CallWorkflow,
    CallbackWorkflow,
    PostCallReportWorkflow,
    RejectInboundCallWorkflow,
    WarmTransferWorkflow,
    WebhookLaneWorkflow,
]


@asynccontextmanager
async def running_worker(
    client: Client, settings: Settings, database: Database
) -> AsyncIterator[Worker]:
    """The worker with every workflow and activity registered, polling until the block ends."""
    webhooks = WebhookClient(
        timeout_seconds=settings.webhook_timeout_seconds,
        allow_private_targets=settings.webhook_allow_private_targets,
    )
    livekit = LiveKitAdapter(
        settings.livekit_url,
        settings.livekit_api_key,
        settings.livekit_api_secret,
        settings.livekit_sip_outbound_trunk_id,
    )
    async with httpx.AsyncClient(timeout=15, trust_env=False) as http:
        telnyx = TelnyxAdapter(settings.telnyx_api_base_url, settings.telnyx_api_key, http)
        sender = LaneSender(database, webhooks)
        dispatcher = WebhookDispatcher(database, sender, client, settings.temporal_task_queue)
        deliveries = WebhookActivities(database, sender)
        calls = CallActivities(database, settings, livekit, telnyx, webhooks, client, dispatcher)
        transfers = TransferActivities(database, settings, livekit)
        reports = ReportActivities(database, settings, livekit, http, client, dispatcher)
        callbacks = CallbackActivities(database, client)
        worker = Worker(
            client,
            task_queue=settings.temporal_task_queue,
            workflows=WORKFLOWS,
            activities=[
                deliveries.attempt_lane_head,
                deliveries.release_lane,
                calls.prepare,
                calls.prepare_and_queue,
                calls.pre_call,
                calls.open_room,
                calls.open_room_then_record,
                calls.dial,
                calls.bridge,
                calls.bridge_then_record,
                calls.probe,
                calls.hang_up,
                calls.reject,
                calls.record_event,
                calls.start_recording,
                calls.start_report,
                calls.close,
                reports.analyze,
                reports.charge,
                reports.schedule_callback,
                reports.send_webhook,
                reports.settle,
                callbacks.plan,
                callbacks.place,
                transfers.create,
                transfers.set_state,
                transfers.blind,
                transfers.open_consultation,
                transfers.dial_consultation,
                transfers.end_consultation,
                transfers.bridge,
                transfers.notify_agent,
            ],
            graceful_shutdown_timeout=timedelta(seconds=10),
            max_cached_workflows=settings.worker_max_cached_workflows,
            # The sandbox re-imports every workflow module per run and re-enters itself per
            # payload: a quarter of the worker's CPU per call (bench/calls.py). The replay
            # tests run every workflow under the sandbox instead (tests/test_call_replay.py).
            workflow_runner=UnsandboxedWorkflowRunner(),
        )
        chores = asyncio.create_task(keep_house(dispatcher, database, client), name="chores")
        try:
            async with worker:
                yield worker
        finally:
            chores.cancel()
            await dispatcher.aclose()
            await livekit.aclose()
            await webhooks.aclose()


async def keep_house(
    dispatcher: WebhookDispatcher,
    database: Database,
    client: Client,
    every: timedelta = timedelta(seconds=15),
) -> None:
    """Now and then, until cancelled: hand webhook lanes a stopped worker left to their
    workflows, and fail calls whose workflow never started."""
    chores = {
        "webhook sweep": dispatcher.sweep,
        "unstarted calls": lambda: fail_unstarted_calls(database, client, utcnow()),
    }
    while True:
        for name, chore in chores.items():
            try:
                await chore()
            except Exception:
                logging.getLogger(__name__).exception("%s failed; trying again later", name)
        await asyncio.sleep(every.total_seconds())


async def run_worker(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM, then finish in-flight activities and stop.

    Raises `SettingError` (a one-line account naming the setting) when Temporal cannot be
    reached as configured or the metrics port cannot be had.
    """
    runtime, metrics = process_telemetry(
        settings.metrics_host, settings.worker_metrics_port, "WORKER_METRICS_PORT"
    )
    if metrics:
        metrics.add(WORKER_READY)
    database = Database(settings.database_url)
    try:
        await database.create_tables()
        client = await connect(settings, runtime=runtime)
        await ensure_search_attributes(client, client.namespace)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        async with running_worker(client, settings, database):
            WORKER_READY.set(1)
            logging.getLogger(__name__).info("worker polling %s", settings.temporal_task_queue)
            await stop.wait()
            WORKER_READY.set(0)
    finally:
        await database.dispose()
        tracing.shutdown()
        if metrics:
            metrics.close()


def main() -> int:
    """`trunkline worker`: log, trace when asked to, run; a setting that cannot work is one
    line naming it, and exit code 1."""
    settings = get_settings()
    logs.configure(settings.log_format)
    tracing.configure("trunkline-worker")
    try:
        uvloop.run(run_worker(settings))  # its event loop costs less CPU per task than asyncio's
    except SettingError as exc:
        print(f"trunkline worker: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
