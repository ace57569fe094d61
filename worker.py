"""The Trunkline worker: one Temporal worker running every workflow and activity.

Run it with `trunkline worker` or `python worker.py`; it reads the same settings as the API.
"""

import asyncio
import logging
import signal
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from activities.webhooks import WebhookActivities
from trunkline.db import Database
from trunkline.settings import Settings, get_settings
from trunkline.temporal import connect, ensure_search_attributes
from trunkline.webhooks.client import WebhookClient
from workflows.webhook_delivery import WebhookDeliveryWorkflow

WORKFLOWS = [WebhookDeliveryWorkflow]


def webhook_client(settings: Settings) -> WebhookClient:
    return WebhookClient(
        timeout_seconds=settings.webhook_timeout_seconds,
        allow_private_targets=settings.webhook_allow_private_targets,
    )


def build_worker(client: Client, settings: Settings, database: Database) -> Worker:
    """The worker with every workflow and activity registered, bound to `database`."""
    webhooks = WebhookActivities(database, webhook_client(settings))
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=WORKFLOWS,
        activities=[webhooks.attempt, webhooks.update],
        graceful_shutdown_timeout=timedelta(seconds=10),
    )


async def run_worker(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM, then finish in-flight activities and stop."""
    database = Database(settings.database_url)
    await database.create_tables()
    client = await connect(settings)
    await ensure_search_attributes(client, settings.temporal_namespace)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with build_worker(client, settings, database):
        logging.getLogger(__name__).info("worker polling %s", settings.temporal_task_queue)
        await stop.wait()
    await database.dispose()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(run_worker(get_settings()))


if __name__ == "__main__":
    main()
