"""`trunkline dev`: the whole embedded stack under one supervisor.

Starts the Temporal dev server (SQLite in the data folder, Web UI), the simulator, the worker and
the API as child processes and relays their output with a name prefix. A child that dies is
restarted, after a pause that doubles with each crash in a row; Ctrl-C (SIGTERM, SIGHUP) stops
them all, in reverse order.
"""

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlmodel import select

from trunkline.db import Database
from trunkline.models import Organization
from trunkline.organizations import create_organization
from trunkline.providers.telnyx import generate_key_pair
from trunkline.settings import Settings
from trunkline.temporal import SEARCH_ATTRIBUTES, bundled_binary

STARTUP_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 15
RESTART_FIRST_DELAY_SECONDS = 1.0
RESTART_MAX_DELAY_SECONDS = 30.0
STABLE_SECONDS = 60.0
"""A child that ran this long before dying was fine: its next restart waits the first delay."""


@dataclass
class Child:
    name: str
    argv: list[str]
    health_url: str | None = None
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)


class ChildExited(Exception):
    """A child process ended (or could not start) while the stack was starting."""


class StopRequested(Exception):
    """Ctrl-C arrived while the stack was still starting."""


_PLAIN_TEMPORAL = {
    "temporal_api_key": "",
    "temporal_tls": False,
    "temporal_tls_client_cert_path": "",
    "temporal_tls_client_key_path": "",
    "temporal_tls_server_ca_cert_path": "",
    "temporal_tls_server_name": "",
    "temporal_config_file": "",
    "temporal_profile": "",
}
"""The dev server speaks plain gRPC: no credentials or profile from the environment apply."""


def embedded_settings(settings: Settings) -> Settings:
    """The settings of the embedded default: telephony is the simulator, webhooks may go local,
    Temporal is the dev server it starts, and the secrets are this data folder's own."""
    simulator = f"http://{settings.simulator_host}:{settings.simulator_port}"
    secrets_ = _local_secrets(settings.data_dir)
    return settings.model_copy(
        update={
            "webhook_allow_private_targets": True,
            "public_base_url": f"http://{settings.api_host}:{settings.api_port}",
            "livekit_url": simulator,
            "telnyx_api_base_url": f"{simulator}/telnyx/v2",
            "livekit_api_key": "devkey",
            "livekit_api_secret": secrets_["livekit_api_secret"],
            "agent_token_secret": secrets_["agent_token_secret"],
            "simulator_telnyx_private_key": secrets_["telnyx_private_key"],
            "telnyx_public_key": secrets_["telnyx_public_key"],
            **_PLAIN_TEMPORAL,
        }
    )


def _local_secrets(data_dir: Path) -> dict[str, str]:
    """Secrets for the embedded stack, made once and kept (mode 600) in the data folder."""
    path = data_dir / "dev-secrets.json"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        private_key, public_key = generate_key_pair()
        made = {
            "livekit_api_secret": secrets.token_urlsafe(32),
            "agent_token_secret": secrets.token_urlsafe(32),
            "telnyx_private_key": private_key,
            "telnyx_public_key": public_key,
        }
        path.write_text(json.dumps(made))
        path.chmod(0o600)
    return json.loads(path.read_text())


def port_in_use(port: int) -> bool:
    """Whether something listens on the port. Connections left in TIME_WAIT by a stack that
    just stopped do not count: its servers bind with SO_REUSEADDR too."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


class DevStack:
    def __init__(self, settings: Settings) -> None:
        self.settings = embedded_settings(settings)
        self.children: list[Child] = []
        self._relays: list[asyncio.Task[None]] = []

    @property
    def _temporal_port(self) -> int:
        return int(self.settings.temporal_address.rsplit(":", 1)[1])

    def _temporal_child(self) -> Child:
        data_dir = self.settings.data_dir.resolve()
        argv = [
            str(bundled_binary("temporal")),
            "server",
            "start-dev",
            "--ip=127.0.0.1",
            f"--port={self._temporal_port}",
            f"--ui-port={self.settings.temporal_ui_port}",
            f"--db-filename={data_dir / 'temporal.db'}",
            f"--namespace={self.settings.temporal_namespace}",
            "--log-level=warn",
            "--dynamic-config-value=history.transferProcessorMaxPollRPS=1000",
            "--sqlite-pragma=journal_mode=wal",
            "--sqlite-pragma=synchronous=normal",
        ]
        argv += [f"--search-attribute={key.name}=Keyword" for key in SEARCH_ATTRIBUTES]
        return Child("temporal", argv, f"http://127.0.0.1:{self.settings.temporal_ui_port}/")

    def _python_child(self, name: str, command: str, health_url: str | None = None) -> Child:
        return Child(name, [sys.executable, "-m", "trunkline.cli", command], health_url)

    async def run(self) -> int:
        """Run until Ctrl-C, SIGTERM or SIGHUP (exit 0); exit 1 when the stack cannot start."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, stop.set)
        try:
            self._check_ports_free()
            await self._start_all(stop)
            self._print_banner()
            await self._supervise(stop)
            return 0
        except ChildExited as exc:
            print(f"trunkline dev: {exc}; stopping", file=sys.stderr, flush=True)
            return 1
        except StopRequested:
            return 0
        finally:
            await self._stop_all()

    def _check_ports_free(self) -> None:
        """Refuse to start over another stack: its health checks would answer for ours."""
        ports = {
            "Temporal": self._temporal_port,
            "Temporal UI": self.settings.temporal_ui_port,
            "API": self.settings.api_port,
            "simulator": self.settings.simulator_port,
        }
        for name, port in ports.items():
            if port_in_use(port):
                raise ChildExited(f"{name} port {port} is already in use")

    async def _start_all(self, stop: asyncio.Event) -> None:
        settings = self.settings
        await self._start(self._temporal_child(), stop)
        await self._bootstrap_database()
        simulator_url = f"http://{settings.simulator_host}:{settings.simulator_port}/healthz"
        api_url = f"http://{settings.api_host}:{settings.api_port}/healthz"
        await self._start(self._python_child("simulator", "sim", simulator_url), stop)
        await self._start(self._python_child("worker", "worker"), stop)
        await self._start(self._python_child("api", "api", api_url), stop)

    async def _start(self, child: Child, stop: asyncio.Event) -> None:
        self.children.append(child)
        await self._spawn(child)
        if child.health_url:
            await _wait_healthy(child, stop)

    async def _spawn(self, child: Child) -> None:
        """Start the child's process and relay its output."""
        child.process = await asyncio.create_subprocess_exec(
            *child.argv,
            env={**os.environ, **self.settings.as_environment()},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches only us; we stop the children in order
        )
        self._relays.append(asyncio.create_task(_relay(child)))

    async def _bootstrap_database(self) -> None:
        """Create the tables; on the very first run, create an organization and print its key."""
        database = Database(self.settings.database_url)
        try:
            await database.create_tables()
            async with database.session() as session:
                if (await session.exec(select(Organization.id).limit(1))).first():
                    return
                created = await create_organization(session, "Default organization")
        finally:
            await database.dispose()
        print(
            "\nFirst run: created a bootstrap organization. Save the API key, it is shown once.\n"
            f"  organization: {created.organization.id}\n"
            f"  export TRUNKLINE_API_KEY={created.api_key}\n",
            flush=True,
        )

    def _print_banner(self) -> None:
        s = self.settings
        print(
            "\nTrunkline is running (Ctrl-C stops everything; data stays in "
            f"{s.data_dir.resolve()}):\n"
            f"  API          http://{s.api_host}:{s.api_port}   (docs: /docs)\n"
            f"  Temporal UI  http://127.0.0.1:{s.temporal_ui_port}\n"
            f"  Temporal     {s.temporal_address}  namespace {s.temporal_namespace}\n"
            f"  Simulator    http://{s.simulator_host}:{s.simulator_port}\n"
            "trunkline dev: ready\n",
            flush=True,
        )

    async def _supervise(self, stop: asyncio.Event) -> None:
        """Keep every child running until asked to stop."""
        keepers = [asyncio.create_task(self._keep_running(child, stop)) for child in self.children]
        await stop.wait()
        for keeper in keepers:
            keeper.cancel()
        await asyncio.gather(*keepers, return_exceptions=True)

    async def _keep_running(self, child: Child, stop: asyncio.Event) -> None:
        """Restart the child whenever it dies, waiting longer after each crash in a row."""
        loop = asyncio.get_running_loop()
        crashes = 0
        while True:
            started = loop.time()
            code = await child.process.wait()  # type: ignore[union-attr]
            crashes = 1 if loop.time() - started >= STABLE_SECONDS else crashes + 1
            delay = min(RESTART_FIRST_DELAY_SECONDS * 2 ** (crashes - 1), RESTART_MAX_DELAY_SECONDS)
            _say(f"{child.name} exited with code {code}; restarting it in {delay:g} s")
            await asyncio.sleep(delay)
            await self._spawn(child)
            try:
                if child.health_url:
                    await _wait_healthy(child, stop)
            except ChildExited as exc:
                _say(f"{exc}")
                continue
            _say(f"{child.name} restarted")

    async def _stop_all(self) -> None:
        for child in reversed(self.children):
            process = child.process
            if process is None or process.returncode is not None:
                continue
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_SECONDS)
            except TimeoutError:
                print(f"trunkline dev: {child.name} did not stop; killing it", file=sys.stderr)
                process.kill()
                await process.wait()
        for relay in self._relays:
            with contextlib.suppress(asyncio.CancelledError):
                await relay
        print("trunkline dev: stopped", flush=True)


def _say(message: str) -> None:
    """A line of the supervisor's own, among the children's."""
    print(f"trunkline dev: {message}", file=sys.stderr, flush=True)


async def _relay(child: Child) -> None:
    """Copy a child's output to ours, each line prefixed with the child's name."""
    assert child.process is not None and child.process.stdout is not None
    async for line in child.process.stdout:
        sys.stdout.write(f"[{child.name:9}] {line.decode(errors='replace')}")
        sys.stdout.flush()


async def _wait_healthy(child: Child, stop: asyncio.Event) -> None:
    """Poll the child's health URL until it answers 200; fail if it exits or takes too long."""
    assert child.process is not None and child.health_url is not None
    deadline = asyncio.get_running_loop().time() + STARTUP_TIMEOUT_SECONDS
    async with httpx.AsyncClient(timeout=2, trust_env=False) as http:
        while not stop.is_set():
            if child.process.returncode is not None:
                raise ChildExited(f"{child.name} exited with code {child.process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(child.health_url)).status_code == 200:
                    return
            if asyncio.get_running_loop().time() > deadline:
                raise ChildExited(f"{child.name} not healthy after {STARTUP_TIMEOUT_SECONDS} s")
            await asyncio.sleep(0.2)
    raise StopRequested
