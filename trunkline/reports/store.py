"""Post-call reports: the facts an analysis reads, its stored versions, and the report payload."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trunkline.calls.store import call_party
from trunkline.calls.transcripts import transcript, transcript_wire
from trunkline.credits import move_credits
from trunkline.models import (
    Agent,
    Call,
    CallMessage,
    CallReport,
    ScheduledCallback,
    TranscriptEntry,
    Transfer,
    TransferAttempt,
    utcnow,
)
from trunkline.organizations import MICROS_PER_CREDIT
from trunkline.pipeline import AnalysisConfig
from trunkline.reports.analysis.rules import Analysis, CallFacts
from trunkline.transfers import attempts_of, messages_of, transfers_of_call


def talk_seconds(call: Call) -> float:
    if call.answered_at is None:
        return 0.0
    return max(0.0, ((call.ended_at or utcnow()) - call.answered_at).total_seconds())


def transfer_leg_seconds(call: Call, attempts: list[TransferAttempt]) -> list[float]:
    """How long each answered consultation leg was up (a bridged one: until the call ended)."""
    ended = call.ended_at or utcnow()
    return [
        ((a.ended_at if a.outcome != "accepted" else ended) - a.answered_at).total_seconds()
        for a in attempts
        if a.answered_at and (a.ended_at or a.outcome == "accepted")
    ]


def message_facts(messages: list[CallMessage]) -> list[dict[str, Any]]:
    return [
        {
            "message": m.text,
            "caller_name": m.caller_name,
            "callback_number": m.callback_number,
            "recipient": m.recipient,
            "transfer_id": m.transfer_id,
        }
        for m in messages
    ]


async def gather_facts(
    session: AsyncSession, call: Call, zone: ZoneInfo
) -> tuple[CallFacts, AnalysisConfig, list[TransferAttempt]]:
    """Everything an analyzer reads about `call`, its agent's analysis config, and its legs."""
    agent = await session.get(Agent, call.agent_id) if call.agent_id else None
    config = AnalysisConfig.model_validate((agent.config if agent else {}).get("analysis") or {})
    entries = await transcript(session, call.id)
    transfers: list[Transfer] = await transfers_of_call(session, call.id)
    attempts = await attempts_of(session, [t.id for t in transfers])
    transferred = call.ended_reason == "transferred" or any(
        t.kind == "warm" and t.state == "completed" for t in transfers
    )
    facts = CallFacts(
        direction=call.direction,
        status=call.status,
        failure_cause=call.failure_cause,
        ended_reason=call.ended_reason,
        answered_machine=call.answered_machine,
        party=call_party(call),
        talk_seconds=talk_seconds(call),
        transcript=[(e.role, e.text) for e in entries],
        messages=message_facts(await messages_of(session, call.id)),
        transferred=transferred,
        rules=config.structured_data,
        ended_at=call.ended_at or utcnow(),
        zone=zone,
    )
    return facts, config, attempts


async def latest_report(session: AsyncSession, call_id: str) -> CallReport | None:
    statement = (
        select(CallReport)
        .where(CallReport.call_id == call_id)
        .order_by(col(CallReport.version).desc())
    )
    return (await session.exec(statement)).first()


async def report_version(session: AsyncSession, call_id: str, version: int) -> CallReport | None:
    statement = select(CallReport).where(
        CallReport.call_id == call_id, CallReport.version == version
    )
    return (await session.exec(statement)).first()


async def report_by_key(session: AsyncSession, request_key: str) -> CallReport | None:
    return (
        await session.exec(select(CallReport).where(CallReport.request_key == request_key))
    ).first()


async def store_report(session: AsyncSession, report: CallReport) -> CallReport:
    """Store `report` as the call's next version; a retry of the same run gets its version back."""
    existing = await report_by_key(session, report.request_key)
    if existing:
        return existing
    versions = select(func.max(CallReport.version)).where(CallReport.call_id == report.call_id)
    report.version = ((await session.exec(versions)).one() or 0) + 1
    session.add(report)
    try:
        await session.commit()
    except IntegrityError:  # the same run's retry, or a concurrent version: look again
        await session.rollback()
        existing = await report_by_key(session, report.request_key)
        if existing is None:
            raise
        return existing
    return report


def new_report(
    call: Call,
    analysis: Analysis,
    *,
    analyzer: str,
    note: str | None,
    costs: dict[str, Any],
    artifacts: dict[str, Any],
    request_key: str,
) -> CallReport:
    callback = analysis.callback
    return CallReport(
        organization_id=call.organization_id,
        call_id=call.id,
        version=0,
        request_key=request_key,
        analyzer=analyzer,
        analyzer_note=note,
        summary=analysis.summary,
        outcome=analysis.outcome,
        structured_data=analysis.structured_data,
        cost_breakdown=costs,
        artifacts=artifacts,
        callback_request={"text": callback.text, "at": _iso(callback.at)} if callback else None,
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


async def report_body(session: AsyncSession, call: Call, report: CallReport) -> dict[str, Any]:
    """`report_payload` with the call's transcript and scheduled callback looked up."""
    callback = (
        await session.get(ScheduledCallback, report.scheduled_callback_id)
        if report.scheduled_callback_id
        else None
    )
    return report_payload(call, report, await transcript(session, call.id), callback)


def report_payload(
    call: Call,
    report: CallReport,
    entries: list[TranscriptEntry],
    callback: ScheduledCallback | None,
) -> dict[str, Any]:
    """The report as the SDK's `CallReport` reads it (snake_case), and as the `call.report`
    webhook sends it; Trunkline's extras (`cost`, `analyzer`, `call`…) ride along."""
    costs = report.cost_breakdown
    return {
        "type": "call.report",
        "session_id": call.id,
        "call_id": call.id,
        "organization_id": call.organization_id,
        "summary": report.summary,
        "outcome": report.outcome,
        "structured_data": report.structured_data,
        "transcript": transcript_wire(entries),
        "cost_micro_usd": cost_micro_usd(report),
        "cost_breakdown": [_cost_line(item) for item in costs.get("items", [])],
        "cost": costs,
        "artifacts": report.artifacts,
        "metadata": call.call_metadata,
        "scheduled_callback": callback_fields(callback) if callback else None,
        "voicemail": _voicemail(call),
        "analysis_status": _analysis_status(report),
        "analysis_error": report.analyzer_note,
        "analysis_completed_at": _iso(report.created_at),
        "analysis_version": report.version,
        "analyzer": report.analyzer,
        "call": {
            "direction": call.direction,
            "from": call.from_number,
            "to": call.to_number,
            "status": call.status,
            "ended_reason": call.ended_reason,
            "failure_cause": call.failure_cause,
            "duration_seconds": round(talk_seconds(call), 3) if call.answered_at else None,
        },
        "created_at": _iso(report.created_at),
        "updated_at": _iso(report.created_at),  # a version never changes: a rerun adds one
    }


def cost_micro_usd(report: CallReport) -> str:
    """The report's total as the SDK reads it: a string of millionths of a US dollar."""
    return str(_micros(report.cost_breakdown.get("total", 0)))


def _micros(credits: float) -> int:
    """Credits are priced in US dollars one for one; the SDK counts millionths of a dollar."""
    return round(credits * MICROS_PER_CREDIT)


def _cost_line(item: dict[str, Any]) -> dict[str, Any]:
    """One line of the SDK's cost breakdown (camelCase, as its `CallCostLine` is)."""
    return {
        "provider": item["item"],
        "metric": "minutes",
        "quantity": item["minutes"],
        "keySource": "MANAGED",
        "costMicroUsd": str(_micros(item["amount"])),
    }


def _voicemail(call: Call) -> dict[str, Any]:
    machine = call.answered_machine
    verdict = None if machine is None else "machine" if machine else "human"
    return {"detected": call.answered_machine is True, "amd_verdict": verdict, "delivery": None}


def _analysis_status(report: CallReport) -> str:
    """`completed` by the LLM analyzer, `heuristic` by the rules (also when the LLM failed)."""
    if report.status == "failed":
        return "failed"
    return "completed" if report.analyzer == "llm" else "heuristic"


def callback_fields(callback: ScheduledCallback) -> dict[str, Any]:
    return {
        "id": callback.id,
        "to": callback.to_number,
        "at": _iso(callback.fire_at),
        "requested_at": _iso(callback.requested_at),
        "status": callback.status,
    }


async def charge_once(session: AsyncSession, report: CallReport) -> bool:
    """Deduct the report's total from its organization's credits, in one transaction with the
    call's charged mark, once per call ever (a later version is not charged again)."""
    micros = round(report.cost_breakdown.get("total", 0) * MICROS_PER_CREDIT)
    marked = await session.exec(
        update(Call)
        .where(col(Call.id) == report.call_id, col(Call.charged_micros).is_(None))
        .values(charged_micros=micros)
    )
    if marked.rowcount != 1:  # type: ignore[attr-defined]
        await session.rollback()
        return False
    return await move_credits(
        session,
        report.organization_id,
        -micros,
        "debit",
        metric="call",
        session_id=report.call_id,
        allow_negative=True,
    )
