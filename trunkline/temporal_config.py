"""Where and how to reach Temporal: Temporal's own environment configuration
(`temporalio.envconfig`, what the `temporal` CLI reads), so one set of variables serves both.

What a setting sets wins over the TOML profile's, which wins over our defaults
(`127.0.0.1:7233`, namespace `default`). An API key turns TLS on unless `TEMPORAL_TLS=false`.
"""

import re
from pathlib import Path

from temporalio.envconfig import ClientConfigProfile, ClientConnectConfig
from temporalio.service import TLSConfig

from trunkline.settings import SettingError, Settings

VARIABLES = {
    "temporal_address": "TEMPORAL_ADDRESS",
    "temporal_namespace": "TEMPORAL_NAMESPACE",
    "temporal_api_key": "TEMPORAL_API_KEY",
    "temporal_tls": "TEMPORAL_TLS",
    "temporal_tls_client_cert_path": "TEMPORAL_TLS_CLIENT_CERT_PATH",
    "temporal_tls_client_key_path": "TEMPORAL_TLS_CLIENT_KEY_PATH",
    "temporal_tls_server_ca_cert_path": "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
    "temporal_tls_server_name": "TEMPORAL_TLS_SERVER_NAME",
}
"""Each setting envconfig reads, and its variable (the same name as ours)."""

_DEFAULTED = ("temporal_address", "temporal_namespace")
"""Settings with a default of ours, which must not hide a profile's value."""


class TemporalSettingError(SettingError):
    """A Temporal connection that cannot work as configured; the message names the setting."""


def connect_config(settings: Settings) -> ClientConnectConfig:
    """`Client.connect` keyword arguments: address, namespace, API key, TLS, gRPC metadata."""
    profile = _profile(settings)
    try:
        config = profile.to_client_connect_config()  # reads the certificate files
    except OSError as exc:
        setting = _file_setting(settings, str(exc.filename))
        raise TemporalSettingError(
            f"{setting}: cannot read {exc.filename} ({exc.strerror})"
        ) from None
    _check_client_pair(config)
    config.setdefault("target_host", settings.temporal_address)
    config.setdefault("namespace", settings.temporal_namespace)
    return config


def envconfig_variables(settings: Settings) -> dict[str, str]:
    """The envconfig variables our settings set; empty ones (and untouched defaults) are unset."""
    variables = {}
    for field, variable in VARIABLES.items():
        value = getattr(settings, field)
        if value is None or value == "":
            continue
        if field in _DEFAULTED and field not in settings.model_fields_set:
            continue
        variables[variable] = str(value).lower() if isinstance(value, bool) else str(value)
    return variables


def describe(config: ClientConnectConfig) -> str:
    """Where a connection goes and with what credentials, naming the settings involved."""
    where = f"{config['target_host']} (namespace {config['namespace']})"
    tls = config.get("tls")
    if not tls:
        return f"{where} without TLS"
    how = ["TLS"]
    if config.get("api_key"):
        how.append("API key (TEMPORAL_API_KEY)")
    if isinstance(tls, TLSConfig) and tls.client_cert:
        how.append("client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH)")
    return f"{where} with {', '.join(how)}"


def _profile(settings: Settings) -> ClientConfigProfile:
    """The profile file's profile (when a file is given) under our settings' variables."""
    path = settings.temporal_config_file
    if path and not Path(path).is_file():
        raise TemporalSettingError(f"TEMPORAL_CONFIG_FILE: no file {path}")
    if settings.temporal_profile and not path:
        raise TemporalSettingError(
            "TEMPORAL_PROFILE needs TEMPORAL_CONFIG_FILE, the profiles' file"
        )
    try:
        return ClientConfigProfile.load(
            settings.temporal_profile or None,
            config_source=Path(path) if path else None,
            disable_file=not path,
            override_env_vars=envconfig_variables(settings),
        )
    except RuntimeError as exc:  # the SDK's ConfigError: an unreadable file, a missing profile
        message = " ".join(str(exc).split())
        raise TemporalSettingError(f"TEMPORAL_CONFIG_FILE {path}: {message}") from None


def _file_setting(settings: Settings, filename: str) -> str:
    """The setting that named an unreadable file (else it came from the profile file)."""
    for field, variable in VARIABLES.items():
        if field.endswith("_path") and getattr(settings, field) == filename:
            return variable
    return f"TEMPORAL_CONFIG_FILE {settings.temporal_config_file}"


def _check_client_pair(config: ClientConnectConfig) -> None:
    """A client certificate without its key (or the reverse) is refused before connecting."""
    tls = config.get("tls")
    if isinstance(tls, TLSConfig) and bool(tls.client_cert) != bool(tls.client_private_key):
        raise TemporalSettingError(
            "TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH: set both or neither"
        )


_OS_MESSAGE = re.compile(r'message: "([^"]+)"')
_UNTRUSTED = re.compile(r"InvalidCertificate\((\w+)\)")


def connection_failure(config: ClientConnectConfig, error: Exception) -> TemporalSettingError:
    """A one-line account of a connection the SDK could not make, and what to check."""
    text = " ".join(str(error).removeprefix("Failed client connect: ").split())
    check = "TEMPORAL_ADDRESS, TEMPORAL_TLS and the credentials"
    if untrusted := _UNTRUSTED.search(text):
        reason = f"the server's certificate is not trusted ({untrusted.group(1)})"
        check = "TEMPORAL_TLS_SERVER_CA_CERT_PATH and TEMPORAL_TLS_SERVER_NAME"
    elif found := _OS_MESSAGE.search(text):
        reason = found.group(1)
    else:
        reason = text
    return TemporalSettingError(
        f"cannot connect to Temporal at {describe(config)}: {reason} (check {check})"
    )
