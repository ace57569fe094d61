"""`trunkline dev` as a user runs it: up, usable with the printed key, Ctrl-C, up again."""

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from tests.servers import free_port
from trunkline.devstack import port_in_use
from trunkline.settings import Settings

REPO = Path(__file__).resolve().parent.parent

READY_TIMEOUT_SECONDS = 120


class RunningStack:
    def __init__(self, data_dir: Path) -> None:
        self.ports = {name: free_port() for name in ("api", "temporal", "ui", "sim")}
        argv = [sys.executable, "-m", "trunkline.cli", "dev"]
        argv += [f"--{name}-port={port}" for name, port in self.ports.items()]
        self.process = subprocess.Popen(
            argv,
            env={**os.environ, "TRUNKLINE_DATA_DIR": str(data_dir)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.output = self._read_until_ready()
        self.later: list[str] = []
        self._arrived = threading.Condition()
        self._collector = threading.Thread(target=self._collect, daemon=True)
        self._collector.start()

    def _collect(self) -> None:
        """Keep the output after `ready`, so a test can wait for a line without blocking."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._arrived:
                self.later.append(line)
                self._arrived.notify_all()

    def wait_for_line(self, text: str, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        """Until the stack prints a line containing `text` (woken by each line it prints)."""
        with self._arrived:
            if not self._arrived.wait_for(
                lambda: any(text in line for line in self.later), timeout
            ):
                pytest.fail(f"no line with {text!r} in:\n" + "".join(self.later))

    def child_pid(self, command: str) -> int:
        """The process id of the stack's child running `trunkline <command>`."""
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
                argv = (stat.parent / "cmdline").read_bytes().split(b"\0")
                if parent == self.process.pid and argv[-2:] == [command.encode(), b""]:
                    return int(stat.parent.name)
        pytest.fail(f"no child runs {command}")

    def _read_until_ready(self) -> str:
        assert self.process.stdout is not None
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        lines: list[str] = []
        for line in self.process.stdout:
            lines.append(line)
            if line.strip() == "trunkline dev: ready":
                return "".join(lines)
            if time.monotonic() > deadline:
                break
        self.process.kill()
        pytest.fail("dev stack did not become ready:\n" + "".join(lines))

    def url(self, name: str, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.ports[name]}{path}"

    def stop(self) -> str:
        """Ctrl-C, as a terminal sends it; returns the rest of the output."""
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=60)
        self._collector.join(timeout=10)
        return "".join(self.later)

    def port_open(self, name: str) -> bool:
        try:
            httpx.get(self.url(name), timeout=1)
        except httpx.ConnectError:
            return False
        return True


async def workflow_pollers(temporal_port: int, within_seconds: float = 30) -> int:
    """How many workers poll the `trunkline` task queue, waiting for the first to show up."""
    client = await Client.connect(f"127.0.0.1:{temporal_port}")
    request = DescribeTaskQueueRequest(
        namespace="default",
        task_queue=TaskQueue(name="trunkline"),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    deadline = time.monotonic() + within_seconds
    while True:
        pollers = (await client.workflow_service.describe_task_queue(request)).pollers
        if pollers or time.monotonic() > deadline:
            return len(pollers)
        await asyncio.sleep(0.2)


def run_quickstart(api_url: str, api_key: str) -> str:
    """The README's SDK quick start against the stack; what it printed."""
    environment = {**os.environ, "TRUNKLINE_API_KEY": api_key, "TRUNKLINE_URL": api_url}
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "quickstart.py")],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_unset_settings_stay_unset_in_the_childrens_environment() -> None:
    environment = Settings(livekit_public_url=None).as_environment()
    assert "LIVEKIT_PUBLIC_URL" not in environment and "None" not in environment.values()


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "data"


def test_dev_stack_runs_stops_and_keeps_data(data_dir: Path) -> None:
    stack = RunningStack(data_dir)
    try:
        key = re.search(r"export TRUNKLINE_API_KEY=(\S+)", stack.output)
        assert key, stack.output
        headers = {"Authorization": f"Bearer {key.group(1)}"}
        created = httpx.post(stack.url("api", "/v1/agents"), json={"name": "Desk"}, headers=headers)
        assert created.status_code == 201, created.text
        listed = httpx.get(stack.url("api", "/v1/agents"), headers=headers).json()
        assert [agent["name"] for agent in listed] == ["Desk"]
        assert httpx.get(stack.url("ui"), timeout=5).status_code == 200
        assert httpx.get(stack.url("sim", "/healthz")).json() == {"status": "ok"}
        inbound = {"from": "+12015551234", "to": "+14155550100"}
        assert httpx.post(stack.url("sim", "/control/inbound-calls"), json=inbound).is_success
        httpx.post(stack.url("sim", "/control/drain"), timeout=30)
        webhooks = httpx.get(stack.url("sim", "/control/state")).json()["webhooks"]
        assert webhooks[0]["event"] == "call.initiated"  # what follows depends on timing
        assert {w["status"] for w in webhooks} == {200}
        assert asyncio.run(workflow_pollers(stack.ports["temporal"])) >= 1
        quickstart = run_quickstart(stack.url("api"), key.group(1))
        assert "report: " in quickstart and "cost: " in quickstart, quickstart
        assert "ending: ending" in quickstart and "call ended" in quickstart, quickstart
        assert f"at ws://127.0.0.1:{stack.ports['sim']}" in quickstart, quickstart
    finally:
        rest = stack.stop()
    assert stack.process.returncode == 0, rest
    assert "trunkline dev: stopped" in rest
    assert not any(stack.port_open(name) for name in ("api", "ui", "sim"))
    assert (data_dir / "trunkline.db").exists() and (data_dir / "temporal.db").exists()

    again = RunningStack(data_dir)
    try:
        assert "TRUNKLINE_API_KEY" not in again.output
        listed = httpx.get(again.url("api", "/v1/agents"), headers=headers).json()
        assert [agent["name"] for agent in listed] == ["Front desk", "Desk"]
    finally:
        again.stop()
    assert again.process.returncode == 0


def test_dev_refuses_to_start_on_a_busy_port(data_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "trunkline.cli", "dev", f"--api-port={port}"],
            env={**os.environ, "TRUNKLINE_DATA_DIR": str(data_dir)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"API port {port} is already in use" in result.stderr
    assert "ready" not in result.stdout


def test_a_port_left_in_time_wait_by_a_stopped_stack_is_free() -> None:
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn and Temporal do
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert port_in_use(port)
        with socket.create_connection(("127.0.0.1", port)):
            served, _ = listener.accept()
            served.close()  # the server closes first: its side of the connection is in TIME_WAIT
    assert not port_in_use(port)


def test_closing_the_terminal_stops_every_child(data_dir: Path) -> None:
    stack = RunningStack(data_dir)
    stack.process.send_signal(signal.SIGHUP)
    stack.process.wait(timeout=60)
    assert stack.process.returncode == 0
    assert not any(stack.port_open(name) for name in ("api", "ui", "sim"))


@pytest.mark.slow
def test_a_crashed_child_is_restarted_and_the_rest_keeps_running(data_dir: Path) -> None:
    stack = RunningStack(data_dir)
    try:
        worker = stack.child_pid("worker")
        os.kill(worker, signal.SIGKILL)
        stack.wait_for_line("worker exited with code -9; restarting it in 1 s")
        stack.wait_for_line("worker restarted")
        assert stack.child_pid("worker") != worker
        assert httpx.get(stack.url("api", "/healthz")).json() == {"status": "ok"}
        assert asyncio.run(workflow_pollers(stack.ports["temporal"])) >= 1
        api = stack.child_pid("api")
        os.kill(api, signal.SIGKILL)
        stack.wait_for_line("api restarted")
        assert httpx.get(stack.url("api", "/healthz")).json() == {"status": "ok"}
    finally:
        rest = stack.stop()
    assert stack.process.returncode == 0, rest
    assert "trunkline dev: stopped" in rest
    assert not any(stack.port_open(name) for name in ("api", "ui", "sim"))
