"""Callback requests in what a caller said ("call me back tomorrow at 3 pm"), as a moment in time.

Times are read in the organization's time zone, relative to when the call ended. Supported:
"in 2 hours" / "in 30 minutes" / "in 3 days", "today", "tonight", "tomorrow", weekday names
("on Monday", "next Friday"), clock times ("at 3 pm", "at 3:30pm", "at 15:00", "at noon") and
parts of the day ("in the morning", "afternoon", "evening").
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

REQUEST = re.compile(
    r"\b(?:call|ring|phone|reach)\s+(?:me|us)\s+(?:back\s*)?(?P<when>[^.?!]*)", re.IGNORECASE
)
RELATIVE = re.compile(r"\bin\s+(?:an?|one|(?P<count>[0-9]{1,3}))\s+(?P<unit>minute|hour|day)s?\b")
CLOCK = re.compile(
    r"\b(?:at\s+)?(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<half>a\.?m\.?|p\.?m\.?)?(?=\W|$)"
)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PARTS_OF_DAY = {
    "morning": time(9),
    "afternoon": time(14),
    "noon": time(12),
    "evening": time(18),
    "tonight": time(19),
}
"""Checked in this order, as whole words ("afternoon" is not "noon")."""
LATER_PARTS = ("afternoon", "evening", "tonight")
"""Words that make a bare "at 9" mean 9 pm."""
ABBREVIATED_HALVES = re.compile(r"\b([ap])\.m\.?", re.IGNORECASE)
DEFAULT_TIME = time(10)
"""When a day is named without a time."""


@dataclass(frozen=True)
class CallbackRequest:
    text: str
    """What the caller said after "call me back"."""
    at: datetime | None
    """When, in UTC; None when they did not say when."""


def find_callback_request(
    lines: list[str], ended_at: datetime, zone: ZoneInfo
) -> CallbackRequest | None:
    """The last callback request in the caller's lines, if any."""
    for line in reversed(lines):
        match = REQUEST.search(ABBREVIATED_HALVES.sub(r"\1m", line))
        if match and ("back" in match.group(0).lower() or _mentions_time(match["when"])):
            when = match["when"].strip()
            return CallbackRequest(text=when, at=resolve_when(when, ended_at.astimezone(zone)))
    return None


def _mentions_time(text: str) -> bool:
    lowered = text.lower()
    return bool(RELATIVE.search(lowered) or _day_of(lowered, 0) is not None or _clock_of(lowered))


def resolve_when(text: str, now: datetime) -> datetime | None:
    """The moment `text` names, seen from `now` (aware, local); None when it names none."""
    lowered = text.lower()
    relative = RELATIVE.search(lowered)
    if relative:
        count = int(relative["count"] or 1)
        return now.astimezone(UTC) + timedelta(**{f"{relative['unit']}s": count})
    day = _day_of(lowered, now.weekday())
    clock = _clock_of(lowered)
    if day is None and clock is None:
        return None
    at_time = clock or DEFAULT_TIME
    date = now.date() + timedelta(days=day or 0)
    moment = datetime.combine(date, at_time, tzinfo=now.tzinfo)
    if not day and moment <= now:  # "at 9 am" (or "today at 2") said later means tomorrow
        moment = datetime.combine(date + timedelta(days=1), at_time, tzinfo=now.tzinfo)
    return moment.astimezone(UTC)


def _day_of(text: str, weekday: int) -> int | None:
    """Days from today (a `weekday`, Monday 0) that `text` names, or None."""
    if "tomorrow" in text:
        return 1
    if "today" in text or "tonight" in text or ("this " in text and _part_of(text)):
        return 0
    for number, name in enumerate(WEEKDAYS):
        if name in text:
            return (number - weekday) % 7 or 7  # the coming one; today's name means next week
    return None


def _part_of(text: str) -> time | None:
    words = set(re.findall(r"[a-z]+", text))
    return next((at for part, at in PARTS_OF_DAY.items() if part in words), None)


def _clock_of(text: str) -> time | None:
    """The time of day `text` names: a clock time, or a part of the day."""
    for match in CLOCK.finditer(text):
        hour, minute = int(match["hour"]), int(match["minute"] or 0)
        half = (match["half"] or "").replace(".", "")
        explicit = half or match["minute"] or match.group(0).startswith("at")
        if not explicit or hour > 23 or minute > 59:
            continue
        if half == "pm" and hour < 12:
            hour += 12
        elif half == "am" and hour == 12:
            hour = 0
        elif not half and hour < 12 and _means_pm(text, hour):
            hour += 12
        return time(hour, minute)
    return _part_of(text)


def _means_pm(text: str, hour: int) -> bool:
    """A bare hour: "at 3" on the phone is the afternoon, "tonight at 9" the evening."""
    if "morning" in text:
        return False
    return 1 <= hour <= 7 or any(part in text for part in LATER_PARTS)
