"""The floor: a bare call-shaped workflow (3 activities, 2 signals) on the dev stack's Temporal.

Runs the same `temporal` dev server with the same flags as `trunkline dev`, a worker in a
subprocess with the SDK's defaults, and drives `calls` workflows from this process at a fixed
arrival rate, each sent its two signals (answered, hung up) as soon as it has started. Prints
the CPU seconds of server + worker per call, which `bench/calls.py` compares a call against.

    .venv/bin/python bench/bare.py --calls 200
"""

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import psutil
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

TASK_QUEUE = "bare"
SERVER_FLAGS = [
    "--dynamic-config-value=history.transferProcessorMaxPollRPS=1000",
    "--sqlite-pragma=journal_mode=wal",
    "--sqlite-pragma=synchronous=normal",
    "--log-level=warn",
]
"""As `trunkline dev` runs its server."""


@activity.defn
async def step(name: str) -> str:
    return name


@workflow.defn
class BareCall:
    """Set up, dial, wait to be answered and hung up, hang up."""

    def __init__(self) -> None:
        self._answered = False
        self._hung_up = False

    @workflow.signal
    def answered(self) -> None:
        self._answered = True

    @workflow.signal
    def hung_up(self) -> None:
        self._hung_up = True

    @workflow.run
    async def run(self) -> None:
        quick = timedelta(seconds=30)
        await workflow.execute_activity(step, "prepare", start_to_close_timeout=quick)
        await workflow.execute_activity(step, "dial", start_to_close_timeout=quick)
        await workflow.wait_condition(lambda: self._answered and self._hung_up)
        await workflow.execute_activity(step, "hang_up", start_to_close_timeout=quick)


async def serve_worker(address: str) -> None:
    client = await Client.connect(address)
    async with Worker(client, task_queue=TASK_QUEUE, workflows=[BareCall], activities=[step]):
        await asyncio.Event().wait()


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


async def measure(calls: int, rate: float) -> float:
    """CPU seconds of server + worker per bare call, `calls` of them arriving at `rate` a second."""
    database = Path(tempfile.mkdtemp(prefix="bare-")) / "temporal.db"
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(_temporal_binary()),
        dev_server_database_filename=str(database),
        dev_server_extra_args=SERVER_FLAGS,
        ui=False,
    )
    address = env.client.service_client.config.target_host
    bench_dir = Path(__file__).parent
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bare",
        "worker",
        address,
        cwd=bench_dir,
        env={**os.environ, "PYTHONPATH": str(bench_dir)},
    )
    try:
        server = next(
            p for p in psutil.Process().children(recursive=True) if p.name().startswith("temporal")
        )
        worker_process = psutil.Process(worker.pid)
        await _one_call(env.client, "warm-up")  # the worker is polling once this returns
        before = cpu_seconds(server) + cpu_seconds(worker_process)
        began = time.perf_counter()
        await asyncio.gather(*(_arrive(env.client, i / rate) for i in range(calls)))
        elapsed = time.perf_counter() - began
        spent = cpu_seconds(server) + cpu_seconds(worker_process) - before
    finally:
        worker.terminate()
        await worker.wait()
        await env.shutdown()
    print(
        f"bare call-shaped workflow: {calls} calls, {calls / elapsed:.1f} calls/s, "
        f"{spent * 1000 / calls:.1f} ms CPU per call (server + worker)"
    )
    return spent / calls


async def _arrive(client: Client, after: float) -> None:
    await asyncio.sleep(after)
    await _one_call(client, str(uuid.uuid4()))


async def _one_call(client: Client, call_id: str) -> None:
    handle = await client.start_workflow("BareCall", id=f"bare-{call_id}", task_queue=TASK_QUEUE)
    await handle.signal("answered")
    await handle.signal("hung_up")
    await handle.result()


def _temporal_binary() -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from trunkline.temporal import bundled_binary

    return bundled_binary("temporal")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("worker").add_argument("address")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="calls arriving per second")
    args = parser.parse_args()
    if args.command == "worker":
        asyncio.run(serve_worker(args.address))
    else:
        asyncio.run(measure(args.calls, args.rate))
    sys.stdout.flush()
    os._exit(0)  # the Temporal SDK can abort at interpreter exit (sdk-python #300)


if __name__ == "__main__":
    main()
