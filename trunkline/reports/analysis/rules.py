"""The default analyzer: deterministic and offline, from how the call ended and what was said."""

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from trunkline.pipeline import ExtractionRule
from trunkline.reports.analysis.callback_time import CallbackRequest, find_callback_request

OUTCOMES = (
    "completed",
    "transferred",
    "message_taken",
    "callback_requested",
    "voicemail",
    "no-answer",
    "busy",
    "failed",
    "no_conversation",
)
TYPE_PATTERNS = {
    "email": r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
    "phone": r"\+?\d[\d\s().-]{6,}\d",
    "number": r"-?\d+(?:[.,]\d+)?",
}
QUOTE_LENGTH = 200


@dataclass
class CallFacts:
    """What the analyzers know about an ended call."""

    direction: str
    status: str
    failure_cause: str | None
    ended_reason: str | None
    answered_machine: bool | None
    party: str
    """The other end: the callee (outbound) or the caller (inbound)."""
    talk_seconds: float
    transcript: list[tuple[str, str]]
    """(role, text) in order."""
    messages: list[dict[str, Any]]
    transferred: bool
    rules: list[ExtractionRule]
    ended_at: datetime
    zone: ZoneInfo

    @property
    def caller_lines(self) -> list[str]:
        return [text for role, text in self.transcript if role == "user"]


@dataclass
class Analysis:
    summary: str
    outcome: str
    structured_data: dict[str, Any] = field(default_factory=dict)
    callback: CallbackRequest | None = None


def analyze(facts: CallFacts) -> Analysis:
    """Summary, outcome, structured data and any callback request, by rule."""
    callback = find_callback_request(facts.caller_lines, facts.ended_at, facts.zone)
    outcome = outcome_of(facts, callback)
    data = {rule.name: extract(rule, " \n".join(facts.caller_lines)) for rule in facts.rules}
    if facts.messages:
        data["messages"] = facts.messages
    return Analysis(
        summary=summarize(facts, outcome, callback),
        outcome=outcome,
        structured_data=data,
        callback=callback,
    )


def outcome_of(facts: CallFacts, callback: CallbackRequest | None) -> str:
    """How the call ended, most telling first."""
    if facts.status == "failed":
        by_cause = {"machine": "voicemail", "no-answer": "no-answer", "busy": "busy"}
        return by_cause.get(facts.failure_cause or "", "failed")
    if facts.answered_machine:
        return "voicemail"
    if facts.transferred:
        return "transferred"
    if facts.messages:
        return "message_taken"
    if callback:
        return "callback_requested"
    return "completed" if facts.caller_lines else "no_conversation"


def summarize(facts: CallFacts, outcome: str, callback: CallbackRequest | None) -> str:
    """A few plain sentences: who, how long, how it ended, and what the caller wanted."""
    minutes, seconds = divmod(round(facts.talk_seconds), 60)
    length = f"{minutes} min {seconds} s" if minutes else f"{seconds} s"
    preposition = "to" if facts.direction == "outbound" else "from"
    sentences = [
        f"{facts.direction.capitalize()} call {preposition} {facts.party}, {length}: "
        f"{outcome.replace('_', ' ').replace('-', ' ')}."
    ]
    said = next((line for line in facts.caller_lines if len(line.split()) > 2), None)
    if said:
        quote = said if len(said) <= QUOTE_LENGTH else said[: QUOTE_LENGTH - 1] + "…"
        sentences.append(f'The caller said: "{quote}"')
    for message in facts.messages:
        sentences.append(f'A message was taken: "{message["message"]}"')
    if callback:
        sentences.append(f"They asked to be called back {callback.text}.".replace("  ", " "))
    return " ".join(sentences)


def extract(rule: ExtractionRule, text: str) -> Any:
    """The rule's value in `text`, typed; None when it is not there."""
    if rule.type == "boolean" and not rule.pattern:
        lowered = text.lower()
        return any(keyword.lower() in lowered for keyword in rule.keywords)
    pattern = rule.pattern or TYPE_PATTERNS[rule.type]
    match = re.search(pattern, text, re.IGNORECASE)
    if rule.type == "boolean":
        return match is not None
    if match is None:
        return None
    value = match.group(1) if match.groups() and match.group(1) else match.group(0)
    if rule.type == "number":
        try:
            number = float(value.replace(",", "."))
        except ValueError:  # a custom pattern captured something else
            return None
        return int(number) if number.is_integer() else number
    if rule.type == "phone":
        return _phone(value)
    return value.strip()


def _phone(value: str) -> str:
    """A spoken number as E.164 where it can tell (ten NANP digits get +1)."""
    digits = re.sub(r"\D", "", value)
    if value.strip().startswith("+"):
        return f"+{digits}"
    if len(digits) == 10:
        return f"+1{digits}"
    if len(digits) == 11 and digits.startswith("1"):
        return f"+{digits}"
    return digits
