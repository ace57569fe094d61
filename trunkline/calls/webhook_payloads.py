"""The payloads of the call webhooks, in the guide's exact shape (snake_case)."""

from typing import Any

from trunkline.models import Call


def pre_call_payload(call: Call, pipeline_config: dict[str, Any]) -> dict[str, Any]:
    """`call.pre_call`: sent before the agent speaks; its answer may override the pipeline."""
    return {
        "type": "call.pre_call",
        "call_id": call.id,
        "session_id": call.id,
        "organization_id": call.organization_id,
        "direction": call.direction,
        "to": call.to_number,
        "from": call.from_number,
        "dialed_number": call.to_number,
        "forwarded_from_number": call.call_metadata.get("forwardedFromNumber"),
        "phone_number_id": call.phone_number_id,
        "call_control_id": call.call_control_id or call.sip_participant_identity,
        "pipeline_config": pipeline_config,
        "metadata": call.call_metadata,
    }


NOTIFIED_EVENT_TYPES = frozenset(
    {
        "call.queued",
        "agent.failed",
        "amd.human",
        "amd.machine",
        "amd.timeout",
        "recording.failed",
        "pre_call.timeout",
        "pre_call.error",
        "pre_call.bad_response",
    }
)
"""Events that send a `call.status` webhook although the status stays as it was (the first
event, `call.queued`, states the status the call starts in)."""


def notifies_customer(
    event_type: str, source: str, status_changed: bool, sip_code: int | None
) -> bool:
    """Whether an event is one a customer acts on: a status change, a transfer step, an AMD
    verdict, a SIP failure, a pre-call webhook or a recording that failed. The rest stay in the
    call's events."""
    return (
        status_changed
        or source == "transfer"
        or event_type in NOTIFIED_EVENT_TYPES
        or (sip_code is not None and sip_code >= 300)
    )


def status_payload(
    call: Call,
    event_type: str,
    provider: str,
    sip_status_code: int | None,
    sip_status: str | None,
) -> dict[str, Any]:
    """`call.status`: one lifecycle event and the status the call is in after it."""
    return {
        "type": "call.status",
        "call_id": call.id,
        "event_type": event_type,
        "provider": provider,
        "status": call.status,
        "failure_cause": call.failure_cause,
        "sip_status_code": sip_status_code,
        "sip_status": sip_status,
        "metadata": call.call_metadata,
    }


def transfer_webhook_fields(facts: dict[str, Any]) -> dict[str, Any]:
    """The `transfer` object a transfer's `call.status` webhooks add: its facts in snake_case."""
    return {("transfer_id" if key == "transferId" else key): value for key, value in facts.items()}
