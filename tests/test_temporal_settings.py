"""Connecting to Temporal through its own environment configuration: what each variable set makes
of the client's connection, and the one-line errors a process gives when it cannot connect."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.service import TLSConfig
from temporalio.testing import WorkflowEnvironment

from tests.servers import free_port
from trunkline.settings import Settings
from trunkline.temporal import connect
from trunkline.temporal_config import TemporalSettingError, connect_config

PROFILES = """
[profile.default]
address = "temporal.internal:7233"

[profile.cloud]
address = "acme.a1b2c.tmprl.cloud:7233"
namespace = "acme.a1b2c"
api_key = "profile-key"

[profile.mtls]
address = "temporal.internal:7233"
namespace = "calls"
[profile.mtls.tls]
client_cert_path = "{cert}"
client_key_path = "{key}"
server_name = "temporal.internal"
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets: no TEMPORAL_ variable of the machine running the tests."""
    for name in list(os.environ):
        if name.startswith("TEMPORAL_"):
            monkeypatch.delenv(name)


@pytest.fixture
def certificate_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(client certificate, client key, server CA) files, with recognisable contents."""
    files = []
    for name in ("client.pem", "client.key", "ca.pem"):
        path = tmp_path / name
        path.write_bytes(f"-----{name}-----\n".encode())
        files.append(path)
    return files[0], files[1], files[2]


def from_environment(monkeypatch: pytest.MonkeyPatch, **variables: str) -> dict:
    """The connection that the settings read from these environment variables make."""
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return dict(connect_config(Settings(_env_file=None)))


def test_defaults_reach_the_local_server_in_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    assert from_environment(monkeypatch) == {
        "target_host": "127.0.0.1:7233",
        "namespace": "default",
    }


def test_an_api_key_turns_tls_on(monkeypatch: pytest.MonkeyPatch) -> None:
    config = from_environment(
        monkeypatch,
        TEMPORAL_ADDRESS="acme.a1b2c.tmprl.cloud:7233",
        TEMPORAL_NAMESPACE="acme.a1b2c",
        TEMPORAL_API_KEY="secret-key",
    )
    assert config == {
        "target_host": "acme.a1b2c.tmprl.cloud:7233",
        "namespace": "acme.a1b2c",
        "api_key": "secret-key",
        "tls": True,
    }


def test_tls_false_keeps_an_api_key_in_plain_text(monkeypatch: pytest.MonkeyPatch) -> None:
    config = from_environment(monkeypatch, TEMPORAL_API_KEY="secret-key", TEMPORAL_TLS="false")
    assert config["api_key"] == "secret-key" and config["tls"] is False


def test_tls_true_alone_uses_the_system_roots(monkeypatch: pytest.MonkeyPatch) -> None:
    config = from_environment(monkeypatch, TEMPORAL_TLS="true")
    assert config["tls"] == TLSConfig()


def test_empty_variables_are_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """As docker-compose.yml passes the ones a deployment leaves out."""
    empty = dict.fromkeys(
        ("TEMPORAL_API_KEY", "TEMPORAL_TLS", "TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_PROFILE"),
        "",
    )
    assert from_environment(monkeypatch, **empty) == {
        "target_host": "127.0.0.1:7233",
        "namespace": "default",
    }


def test_mutual_tls_reads_the_certificate_files(
    monkeypatch: pytest.MonkeyPatch, certificate_files: tuple[Path, Path, Path]
) -> None:
    cert, key, ca = certificate_files
    config = from_environment(
        monkeypatch,
        TEMPORAL_ADDRESS="temporal.internal:7233",
        TEMPORAL_TLS_CLIENT_CERT_PATH=str(cert),
        TEMPORAL_TLS_CLIENT_KEY_PATH=str(key),
        TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(ca),
        TEMPORAL_TLS_SERVER_NAME="temporal.internal",
    )
    assert config["tls"] == TLSConfig(
        client_cert=cert.read_bytes(),
        client_private_key=key.read_bytes(),
        server_root_ca_cert=ca.read_bytes(),
        domain="temporal.internal",
    )
    assert "api_key" not in config


def test_a_missing_certificate_names_its_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(TemporalSettingError) as raised:
        from_environment(
            monkeypatch,
            TEMPORAL_TLS_CLIENT_CERT_PATH=str(tmp_path / "absent.pem"),
            TEMPORAL_TLS_CLIENT_KEY_PATH=str(tmp_path / "absent.key"),
        )
    assert str(raised.value).startswith("TEMPORAL_TLS_CLIENT_CERT_PATH: cannot read ")
    assert "absent.pem" in str(raised.value)


def test_a_certificate_without_its_key_is_refused(
    monkeypatch: pytest.MonkeyPatch, certificate_files: tuple[Path, Path, Path]
) -> None:
    with pytest.raises(TemporalSettingError, match="TEMPORAL_TLS_CLIENT_KEY_PATH"):
        from_environment(monkeypatch, TEMPORAL_TLS_CLIENT_CERT_PATH=str(certificate_files[0]))


@pytest.fixture
def profiles(tmp_path: Path, certificate_files: tuple[Path, Path, Path]) -> Path:
    path = tmp_path / "temporal.toml"
    cert, key, _ = certificate_files
    path.write_text(PROFILES.format(cert=cert, key=key))
    return path


def test_a_profile_file_gives_the_default_profile(
    monkeypatch: pytest.MonkeyPatch, profiles: Path
) -> None:
    config = from_environment(monkeypatch, TEMPORAL_CONFIG_FILE=str(profiles))
    assert config == {"target_host": "temporal.internal:7233", "namespace": "default"}


def test_a_named_profile_brings_its_key_and_namespace(
    monkeypatch: pytest.MonkeyPatch, profiles: Path
) -> None:
    config = from_environment(
        monkeypatch, TEMPORAL_CONFIG_FILE=str(profiles), TEMPORAL_PROFILE="cloud"
    )
    assert config == {
        "target_host": "acme.a1b2c.tmprl.cloud:7233",
        "namespace": "acme.a1b2c",
        "api_key": "profile-key",
        "tls": True,
    }


def test_variables_win_over_the_profile(monkeypatch: pytest.MonkeyPatch, profiles: Path) -> None:
    config = from_environment(
        monkeypatch,
        TEMPORAL_CONFIG_FILE=str(profiles),
        TEMPORAL_PROFILE="cloud",
        TEMPORAL_ADDRESS="eu.acme.tmprl.cloud:7233",
        TEMPORAL_API_KEY="rotated-key",
        TEMPORAL_TLS="false",
    )
    assert config["target_host"] == "eu.acme.tmprl.cloud:7233"
    assert config["namespace"] == "acme.a1b2c"  # the profile's: the variable is unset
    assert config["api_key"] == "rotated-key" and config["tls"] is False


def test_a_profile_with_mutual_tls(
    monkeypatch: pytest.MonkeyPatch, profiles: Path, certificate_files: tuple[Path, Path, Path]
) -> None:
    config = from_environment(
        monkeypatch, TEMPORAL_CONFIG_FILE=str(profiles), TEMPORAL_PROFILE="mtls"
    )
    cert, key, _ = certificate_files
    assert config["namespace"] == "calls"
    assert config["tls"] == TLSConfig(
        client_cert=cert.read_bytes(),
        client_private_key=key.read_bytes(),
        domain="temporal.internal",
    )


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"TEMPORAL_PROFILE": "cloud"}, "TEMPORAL_PROFILE needs TEMPORAL_CONFIG_FILE"),
        ({"TEMPORAL_CONFIG_FILE": "/nonexistent/temporal.toml"}, "TEMPORAL_CONFIG_FILE: no file"),
        (
            {"TEMPORAL_CONFIG_FILE": "{profiles}", "TEMPORAL_PROFILE": "staging"},
            "TEMPORAL_CONFIG_FILE .*: Profile 'staging' not found",
        ),
    ],
)
def test_profile_mistakes_are_named(
    monkeypatch: pytest.MonkeyPatch, profiles: Path, variables: dict[str, str], message: str
) -> None:
    variables = {name: value.format(profiles=profiles) for name, value in variables.items()}
    with pytest.raises(TemporalSettingError, match=message):
        from_environment(monkeypatch, **variables)


# --- against a real server --------------------------------------------------------------------


def address_of(environment: WorkflowEnvironment) -> str:
    return environment.client.service_client.config.target_host


async def test_an_api_key_without_tls_false_speaks_tls_to_the_server(
    local_temporal: WorkflowEnvironment,
) -> None:
    """The dev server speaks plain gRPC: a key alone means TLS, which it cannot answer; with
    `TEMPORAL_TLS=false` the same key goes in plain text (the dev server ignores keys)."""
    settings = Settings(_env_file=None, temporal_address=address_of(local_temporal))
    with pytest.raises(TemporalSettingError) as raised:
        await connect(settings.model_copy(update={"temporal_api_key": "k"}))
    assert "with TLS, API key (TEMPORAL_API_KEY)" in str(raised.value)
    plain = settings.model_copy(update={"temporal_api_key": "k", "temporal_tls": False})
    client = await connect(plain)
    assert client.api_key == "k"
    await client.workflow_service.get_system_info(GetSystemInfoRequest())


def run_cli(command: str, **variables: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")},
        **variables,
    }
    return subprocess.run(
        [sys.executable, "-m", "trunkline.cli", command],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str], command: str) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith(f"trunkline {command}:")]
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_the_worker_says_which_address_it_could_not_reach(tmp_path: Path) -> None:
    port = free_port()
    done = run_cli(
        "worker",
        TEMPORAL_ADDRESS=f"127.0.0.1:{port}",
        TRUNKLINE_DATA_DIR=str(tmp_path),
    )
    line = assert_one_line_error(done, "worker")
    assert f"cannot connect to Temporal at 127.0.0.1:{port} (namespace default)" in line
    assert "Connection refused" in line and "TEMPORAL_ADDRESS" in line


@pytest.mark.parametrize("command", ["worker", "api"])
def test_a_missing_certificate_stops_the_process_with_one_line(
    command: str, tmp_path: Path
) -> None:
    done = run_cli(
        command,
        TEMPORAL_TLS_CLIENT_CERT_PATH=str(tmp_path / "client.pem"),
        TEMPORAL_TLS_CLIENT_KEY_PATH=str(tmp_path / "client.key"),
        TRUNKLINE_DATA_DIR=str(tmp_path),
        API_PORT=str(free_port()),
    )
    line = assert_one_line_error(done, command)
    assert f"TEMPORAL_TLS_CLIENT_CERT_PATH: cannot read {tmp_path / 'client.pem'}" in line
