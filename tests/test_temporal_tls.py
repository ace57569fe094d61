"""Mutual TLS against a real Temporal: the dev server speaks plain gRPC only, so a TLS proxy on
loopback (asking for a client certificate signed by the test's CA) stands in front of it."""

import asyncio
import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.testing import WorkflowEnvironment

from trunkline.settings import Settings
from trunkline.temporal import connect
from trunkline.temporal_config import TemporalSettingError

SERVER_NAME = "temporal.test"


@dataclass(frozen=True)
class Issued:
    cert: bytes
    key: bytes


def _issue(
    name: str, issuer: Issued | None = None, *, ca: bool = False, server: bool = False
) -> Issued:
    """A certificate for `name`, self-signed (a CA) or signed by `issuer`."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    signer_key = serialization.load_pem_private_key(issuer.key, None) if issuer else key
    signer_name = x509.load_pem_x509_certificate(issuer.cert).subject if issuer else subject
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(signer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        names = [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    certificate = builder.sign(signer_key, hashes.SHA256())  # type: ignore[arg-type]
    return Issued(
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


@dataclass(frozen=True)
class Pki:
    """Files of a CA, the proxy's server certificate, and a client certificate it accepts."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    folder = tmp_path_factory.mktemp("pki")
    ca = _issue("Trunkline test CA", ca=True)
    server = _issue(SERVER_NAME, ca, server=True)
    client = _issue("trunkline-worker", ca)
    files = {
        "ca": ca.cert,
        "server_cert": server.cert,
        "server_key": server.key,
        "client_cert": client.cert,
        "client_key": client.key,
    }
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return Pki(**{name: folder / name for name in files})


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


@pytest.fixture(scope="module")
async def tls_temporal(local_temporal: WorkflowEnvironment, pki: Pki) -> AsyncIterator[str]:
    """The dev server behind a mutual-TLS proxy on loopback; yields the proxy's address."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki.ca))
    context.load_cert_chain(pki.server_cert, pki.server_key)
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2"])
    host, port = local_temporal.client.service_client.config.target_host.rsplit(":", 1)

    async def forward(client_reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        upstream_reader, upstream = await asyncio.open_connection(host, int(port))
        await asyncio.gather(_pipe(client_reader, upstream), _pipe(upstream_reader, client))

    server = await asyncio.start_server(forward, "127.0.0.1", 0, ssl=context)
    yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    server.close()


def mutual_tls(address: str, pki: Pki, **overrides: str) -> Settings:
    settings = {
        "temporal_address": address,
        "temporal_tls_client_cert_path": str(pki.client_cert),
        "temporal_tls_client_key_path": str(pki.client_key),
        "temporal_tls_server_ca_cert_path": str(pki.ca),
        "temporal_tls_server_name": SERVER_NAME,
        **overrides,
    }
    return Settings(_env_file=None, **settings)


async def test_mutual_tls_reaches_temporal(tls_temporal: str, pki: Pki) -> None:
    client = await connect(mutual_tls(tls_temporal, pki))
    info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
    assert info.server_version


async def test_without_a_client_certificate_the_connection_is_refused(
    tls_temporal: str, pki: Pki
) -> None:
    settings = mutual_tls(
        tls_temporal, pki, temporal_tls_client_cert_path="", temporal_tls_client_key_path=""
    )
    with pytest.raises(TemporalSettingError) as raised:
        client = await connect(settings)
        await client.workflow_service.get_system_info(GetSystemInfoRequest())
    assert f"cannot connect to Temporal at {tls_temporal}" in str(raised.value)
    assert "with TLS" in str(raised.value)


async def test_a_server_signed_by_another_ca_is_refused(
    tls_temporal: str, pki: Pki, tmp_path: Path
) -> None:
    stranger = tmp_path / "other-ca.pem"
    stranger.write_bytes(_issue("Another CA", ca=True).cert)
    settings = mutual_tls(tls_temporal, pki, temporal_tls_server_ca_cert_path=str(stranger))
    with pytest.raises(TemporalSettingError) as raised:
        await connect(settings)
    assert "the server's certificate is not trusted (UnknownIssuer)" in str(raised.value)
    assert "TEMPORAL_TLS_SERVER_CA_CERT_PATH" in str(raised.value)
