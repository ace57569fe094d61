"""Trunkline's own processes (`trunkline worker`, `trunkline api`) as real subprocesses."""

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.waiting import eventually
from trunkline.settings import Settings


def start_process(
    settings: Settings, *argv: str, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """`trunkline <argv>` with these settings, its output to `log` (or discarded)."""
    output = log.open("ab") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "trunkline.cli", *argv],
            env={**os.environ, **settings.as_environment()},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    finally:
        if log:
            output.close()  # type: ignore[union-attr]


def start_worker_process(settings: Settings, log: Path | None = None) -> subprocess.Popen[bytes]:
    return start_process(settings, "worker", log=log)


async def stop_worker_processes(*processes: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM the processes still running and wait for them to stop, off the event loop: the
    simulator they are still talking to runs on it, and must keep answering them."""
    for process in processes:
        if process and process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        if process:
            await asyncio.to_thread(process.wait, 30)


async def api_ready(process: subprocess.Popen[bytes], base_url: str, within: float = 60) -> None:
    """Wait until the API process answers its health check (failing at once if it exits)."""

    async def healthy() -> bool:
        assert process.poll() is None, f"the API at {base_url} exited with {process.returncode}"
        try:
            async with httpx.AsyncClient(base_url=base_url, trust_env=False) as http:
                return (await http.get("/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    await eventually(healthy, within)
