"""The production docker-compose.yml and Dockerfile stay in step with the settings and code."""

import fnmatch
import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from trunkline.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
APP_SERVICES = ("api", "worker")

# `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`: what Compose substitutes.
_INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<default>[^}]*))?\}")
_SEARCH_ATTRIBUTE_CREATE = re.compile(
    r"temporal operator search-attribute create\b[^\n]*?--name\s+(\w+)\s+--type\s+(\w+)"
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def interpolate(value: str) -> str:
    """The value Compose uses when none of the referenced variables is set (defaults applied)."""
    value = _INTERPOLATION.sub(
        lambda m: m.group("default") if m.group("op") in (":-", "-") else "", value
    )
    return value.replace("$$", "$")


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's `environment:`, in either the mapping or the `KEY=value` list form."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: "" if value is None else str(value) for key, value in env.items()}


def settings_env_vars() -> set[str]:
    """Every environment variable `Settings` reads: the alias if it has one, else NAME."""
    return {
        field.validation_alias if isinstance(field.validation_alias, str) else name.upper()
        for name, field in Settings.model_fields.items()
    }


def as_text(command: str | list[str] | None) -> str:
    if command is None:
        return ""
    return command if isinstance(command, str) else " ".join(command)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, comments dropped and continuation lines joined."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            instructions.append((keyword.upper(), arguments.strip()))
    return instructions


def copied_from_context() -> list[str]:
    """Source patterns of every COPY/ADD that reads the build context (not another stage)."""
    sources = []
    for keyword, arguments in dockerfile_instructions():
        if keyword not in ("COPY", "ADD"):
            continue
        words = json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)
        if any(word.startswith("--from") for word in words):
            continue
        paths = [word for word in words if not word.startswith("--")]
        sources.extend(path.removeprefix("./").rstrip("/") for path in paths[:-1])
    return sources


def test_required_services_exist(services: dict[str, Any]) -> None:
    expected = {"postgresql", "temporal", "temporal-ui", "temporal-setup", *APP_SERVICES}
    assert expected <= services.keys()


def test_every_dependency_is_a_service(services: dict[str, Any]) -> None:
    for name, service in services.items():
        depends_on = service.get("depends_on") or []
        for dependency in depends_on:
            assert dependency in services, f"{name} depends on unknown service {dependency}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_wait_for_database_and_search_attributes(
    services: dict[str, Any], name: str
) -> None:
    depends_on = services[name]["depends_on"]
    assert depends_on["postgresql"]["condition"] == "service_healthy"
    assert depends_on["temporal-setup"]["condition"] == "service_completed_successfully"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_build_the_repository_dockerfile(services: dict[str, Any], name: str) -> None:
    build = services[name]["build"]
    if isinstance(build, str):
        build = {"context": build}
    context = (COMPOSE_FILE.parent / build.get("context", ".")).resolve()
    dockerfile = (context / build.get("dockerfile", "Dockerfile")).resolve()
    assert dockerfile == DOCKERFILE
    assert dockerfile.is_file()


def test_app_service_commands(services: dict[str, Any]) -> None:
    assert as_text(services["worker"]["command"]) == "trunkline worker"
    assert as_text(services["api"].get("command")) in ("", "trunkline api")


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_set_every_setting(services: dict[str, Any], name: str) -> None:
    missing = settings_env_vars() - environment(services[name]).keys()
    assert not missing, f"{name} lacks environment entries for {sorted(missing)}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_environment_is_valid_production_settings(
    services: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in environment(services[name]).items():
        monkeypatch.setenv(key, interpolate(value))
    settings = Settings(_env_file=None)
    assert settings.api_host == "0.0.0.0"
    assert settings.webhook_allow_private_targets is False


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_point_at_the_stack(services: dict[str, Any], name: str) -> None:
    env = environment(services[name])
    database = make_url(interpolate(env["DATABASE_URL"]))
    assert database.get_backend_name() == "postgresql"
    assert database.host == "postgresql"
    assert database.database == "trunkline"
    host, _, port = interpolate(env["TEMPORAL_ADDRESS"]).rpartition(":")
    assert (host, port) == ("temporal", "7233")


def test_postgresql_creates_the_app_database(services: dict[str, Any]) -> None:
    init_sql = ROOT / "deploy" / "postgres" / "init.sql"
    assert re.search(r"CREATE DATABASE trunkline\b", init_sql.read_text())
    mounts = [str(volume) for volume in services["postgresql"]["volumes"]]
    assert any(
        mount.startswith("./deploy/postgres/init.sql:/docker-entrypoint-initdb.d/")
        for mount in mounts
    )
    assert "healthcheck" in services["postgresql"]


def test_temporal_setup_registers_exactly_the_app_search_attributes(
    services: dict[str, Any],
) -> None:
    from trunkline.temporal import SEARCH_ATTRIBUTES

    setup = services["temporal-setup"]
    script = as_text(setup.get("entrypoint")) + "\n" + as_text(setup.get("command"))
    registered = _SEARCH_ATTRIBUTE_CREATE.findall(script)
    assert {name for name, _ in registered} == {key.name for key in SEARCH_ATTRIBUTES}
    expected = {key.name: key.indexed_value_type.name for key in SEARCH_ATTRIBUTES}
    for attribute, cli_type in registered:
        assert cli_type.upper() == expected[attribute].replace("_", "")


def test_temporal_ui_is_published_on_8233(services: dict[str, Any]) -> None:
    ui = services["temporal-ui"]
    assert "8233:8080" in [str(port) for port in ui["ports"]]
    assert environment(ui)["TEMPORAL_ADDRESS"] == "temporal:7233"


def test_dockerfile_runs_trunkline_as_non_root() -> None:
    instructions = dockerfile_instructions()
    entry = [args for keyword, args in instructions if keyword in ("CMD", "ENTRYPOINT")]
    assert entry, "the Dockerfile has no CMD or ENTRYPOINT"
    assert "trunkline" in " ".join(entry)
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users, "the Dockerfile never leaves root"
    assert users[-1].split(":")[0] not in ("root", "0")
    installs = [
        args for keyword, args in instructions if keyword == "RUN" and "pip install" in args
    ]
    assert installs and not any("[test]" in args for args in installs)


def test_dockerfile_copies_what_pyproject_packages() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    setuptools = pyproject["tool"]["setuptools"]
    packages = setuptools.get("packages", [])
    if isinstance(packages, dict):
        packages = packages["find"]["include"]
    needed = {"pyproject.toml"}
    needed |= {package.split(".")[0].rstrip("*") for package in packages}
    needed |= {f"{module}.py" for module in setuptools.get("py-modules", [])}
    if isinstance(pyproject["project"].get("readme"), str):
        needed.add(pyproject["project"]["readme"])
    sources = copied_from_context()
    if "." in sources:
        return
    missing = {path for path in needed if not any(fnmatch.fnmatch(path, s) for s in sources)}
    assert not missing, f"the Dockerfile does not copy {sorted(missing)}"


def host_ports(service: dict[str, Any]) -> list[str]:
    """The service's `ports:` entries that bind a port on the host: `[IP:]HOST:CONTAINER` in
    the short syntax, or `published` in the long one."""
    bound = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            if port.get("published"):
                bound.append(str(port["published"]))
        elif ":" in str(port):
            bound.append(str(port))
    return bound


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_scale_out(services: dict[str, Any], name: str) -> None:
    """`docker compose up --scale api=N --scale worker=N`: replicas need their own names and
    cannot share a host port."""
    assert "container_name" not in services[name]
    assert not host_ports(services[name]), f"{name} binds a host port: it cannot scale"


def test_the_gateway_publishes_the_api_and_spreads_requests_over_its_replicas(
    services: dict[str, Any],
) -> None:
    gateway = services["gateway"]
    assert "8000:8000" in host_ports(gateway)
    [mount] = [str(v) for v in gateway["volumes"] if str(v).endswith(":/etc/caddy/Caddyfile:ro")]
    caddyfile = (COMPOSE_FILE.parent / mount.split(":", 1)[0]).read_text()
    api_port = environment(services["api"])["API_PORT"]
    assert re.search(rf"^\s*dynamic a api {api_port}\b", caddyfile, re.MULTILINE)
    assert gateway["depends_on"]["api"]["condition"] == "service_healthy"
