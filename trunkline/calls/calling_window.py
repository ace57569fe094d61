"""Calling windows: callbacks ring only between the organization's local start and end times."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def parse_clock(value: str) -> time:
    """`"09:00"` → 09:00; raises ValueError for anything else."""
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def next_in_window(at: datetime, zone: ZoneInfo, start: time, end: time) -> datetime:
    """`at`, or the next moment after it inside [start, end) local time in `zone` (UTC out)."""
    local = at.astimezone(zone)
    if start <= local.time() < end:
        return at
    day = local.date() if local.time() < start else local.date() + timedelta(days=1)
    return datetime.combine(day, start, tzinfo=zone).astimezone(ZoneInfo("UTC"))
