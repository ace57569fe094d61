"""Which number a forwarded inbound call was forwarded from, normalised to E.164."""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote

from trunkline.numbers.e164 import check_e164

_NAME_ADDR = re.compile(r'(?:"(?:[^"\\]|\\.)*"|[^"<]*)\s*<([^>]*)>(.*)', re.DOTALL)
_DIALLABLE = re.compile(r"\+?[\d\s().-]+")
_INDEX = re.compile(r"\d+(?:\.\d+)*")
_CAUSE_REASONS = {
    "404": "unknown",
    "486": "user-busy",
    "408": "no-answer",
    "302": "unconditional",
    "487": "deflection",
    "480": "unavailable",
    "503": "unavailable",
}


def _runs_without(separator: str) -> re.Pattern[str]:
    """Runs of text holding no `separator` outside a quoted string or `<...>`.

    An unmatched quote or `<` is kept as an ordinary character.
    """
    return re.compile(rf'(?:"(?:[^"\\]|\\.)*"|<[^<>]*>|[^{separator}])+')


_ENTRIES = _runs_without(",")
_PARAMS = _runs_without(";")


@dataclass(frozen=True)
class ForwardedFrom:
    """The number a call was forwarded from, why, and which input said so."""

    number: str
    reason: str | None
    source: str


@dataclass(frozen=True)
class _HistoryEntry:
    """One History-Info entry: its position in the retargeting tree, target and cause."""

    index: tuple[int, ...]
    uri: str
    cause: str | None


def normalize_number(value: str, default_country_code: str = "1") -> str | None:
    """E.164 from a bare number, a tel/sip URI or a name-addr, or None when it is not a number."""
    match = _NAME_ADDR.fullmatch(value.strip())
    user = _user_part(match.group(1) if match else value)
    if user is None:
        return None
    number = unquote(user).strip()
    if not _DIALLABLE.fullmatch(number):
        return None
    return _e164(number, default_country_code.lstrip("+"))


def _user_part(uri: str) -> str | None:
    """The part of a URI that can hold a telephone number; a bare string is its own user part."""
    scheme, colon, rest = uri.strip().partition(":")
    if not colon:
        return scheme
    if scheme.lower() == "tel":
        return rest.partition(";")[0]
    user, at, _ = rest.partition("@")
    return user.partition(";")[0] if at and scheme.lower() in ("sip", "sips") else None


def _e164(number: str, country_code: str) -> str | None:
    """Add what a diallable string lacks to be E.164, or None when its length is ambiguous."""
    digits = re.sub(r"\D", "", number)
    if number.startswith("+"):
        candidate = f"+{digits}"
    elif len(digits) == 10:
        candidate = f"+{country_code}{digits}"
    elif len(digits) == len(country_code) + 10 and digits.startswith(country_code):
        candidate = f"+{digits}"
    else:
        return None
    try:
        return check_e164(candidate)
    except ValueError:
        return None


def parse_diversion(values: list[str]) -> ForwardedFrom | None:
    """RFC 5806 Diversion: the original (last) entry that is a phone number, with its reason."""
    for entry in reversed(_entries(values)):
        uri, params = _name_addr(entry)
        number = normalize_number(uri)
        if number is not None:
            return ForwardedFrom(number, params.get("reason", "").lower() or None, "diversion")
    return None


def parse_history_info(values: list[str]) -> ForwardedFrom | None:
    """RFC 7044 History-Info: the earliest retargeted target that is a phone number."""
    entries = _history_entries(values)
    retargeted = _retargeted(entries)
    if not retargeted and len(entries) >= 2:
        retargeted = [(entries[0], None)]
    for entry, cause in retargeted:
        number = normalize_number(entry.uri)
        if number is not None:
            return ForwardedFrom(number, _CAUSE_REASONS.get(cause or ""), "history-info")
    return None


def _history_entries(values: list[str]) -> list[_HistoryEntry]:
    """Entries with a valid index in index order; the first of duplicate indices wins."""
    entries: dict[tuple[int, ...], _HistoryEntry] = {}
    for text in _entries(values):
        uri, params = _name_addr(text)
        index = params.get("index", "")
        if _INDEX.fullmatch(index):
            cause = _uri_params(uri).get("cause") or params.get("cause")
            key = tuple(int(part) for part in index.split("."))
            entries.setdefault(key, _HistoryEntry(key, uri, cause))
    return sorted(entries.values(), key=lambda entry: entry.index)


def _retargeted(entries: list[_HistoryEntry]) -> list[tuple[_HistoryEntry, str | None]]:
    """Each entry that was retargeted, with the cause its child carries, earliest first.

    The retargeted entry is the child's parent by index, or the entry just before the child
    when the parent is missing.
    """
    by_index = {entry.index: entry for entry in entries}
    found = [
        (by_index.get(child.index[:-1], entries[position - 1]), child.cause)
        for position, child in enumerate(entries)
        if child.cause is not None and position > 0
    ]
    return sorted(found, key=lambda pair: pair[0].index)


def _entries(values: list[str]) -> list[str]:
    """The comma-separated entries of every header value, in the order received."""
    return [
        entry.strip()
        for value in values
        if isinstance(value, str)
        for entry in _ENTRIES.findall(value)
        if entry.strip()
    ]


def _name_addr(entry: str) -> tuple[str, dict[str, str]]:
    """The URI and the header parameters of a `name-addr` (or bare `addr-spec`) entry."""
    match = _NAME_ADDR.fullmatch(entry)
    if match:
        return match.group(1).strip(), _params(match.group(2))
    uri, _, tail = entry.partition(";")
    return uri.strip(), _params(tail)


def _uri_params(uri: str) -> dict[str, str]:
    """The parameters after a URI's host (or after a tel number), ignoring `?headers`."""
    return _params(uri.partition("?")[0].rpartition("@")[2].partition(";")[2])


def _params(text: str) -> dict[str, str]:
    """`;name=value` parameters with lower-cased names and unquoted values; first one wins."""
    params: dict[str, str] = {}
    for part in _PARAMS.findall(text):
        name, _, value = part.partition("=")
        params.setdefault(name.strip().lower(), value.strip().strip('"').strip())
    return params


def forwarded_from(
    *,
    dialed_number: str | None,
    telnyx_payload: Mapping[str, Any] | None = None,
    sip_headers: Iterable[tuple[str, str]]
    | Mapping[str, str | list[str]]
    | list[dict[str, str]]
    | None = None,
) -> ForwardedFrom | None:
    """The number the call was forwarded from, by source precedence, or None if not forwarded.

    Precedence: Telnyx `forwarded_from`, `redirecting_number`, Diversion, History-Info, Telnyx
    `original_to`; a candidate equal to the dialed number is skipped. Headers come from the
    payload's `sip_headers` and `custom_headers`, then from `sip_headers`. A winner without a
    reason borrows one from Diversion or History-Info when they name the same number.
    """
    payload = telnyx_payload if isinstance(telnyx_payload, Mapping) else {}
    headers = [
        *_header_pairs(payload.get("sip_headers")),
        *_header_pairs(payload.get("custom_headers")),
        *_header_pairs(sip_headers),
    ]
    diversion = parse_diversion(_header_values(headers, "diversion"))
    history = parse_history_info(_header_values(headers, "history-info"))
    candidates = [
        _payload_field(payload, "forwarded_from"),
        _payload_field(payload, "redirecting_number"),
        diversion,
        history,
        _payload_field(payload, "original_to"),
    ]
    dialed = normalize_number(dialed_number) if isinstance(dialed_number, str) else None
    winner = next((c for c in candidates if c is not None and c.number != dialed), None)
    if winner is None or winner.reason is not None:
        return winner
    reasons = (
        c.reason for c in (diversion, history) if c is not None and c.number == winner.number
    )
    return replace(winner, reason=next((reason for reason in reasons if reason), None))


def _payload_field(payload: Mapping[str, Any], name: str) -> ForwardedFrom | None:
    """A Telnyx payload field as a candidate, when it holds a phone number."""
    value = payload.get(name)
    number = normalize_number(value) if isinstance(value, str) else None
    return ForwardedFrom(number, None, name) if number is not None else None


def _header_pairs(headers: object) -> list[tuple[str, str]]:
    """(name, value) pairs from a mapping, (name, value) pairs or Telnyx {"name", "value"} dicts."""
    if isinstance(headers, Mapping):
        items: Iterable[object] = (
            (name, value)
            for name, values in headers.items()
            for value in (values if isinstance(values, list) else [values])
        )
    elif isinstance(headers, Iterable) and not isinstance(headers, str | bytes):
        items = headers
    else:
        return []
    return [pair for item in items if (pair := _header_pair(item)) is not None]


def _header_pair(item: object) -> tuple[str, str] | None:
    """One header as (name, value), or None when it is not a pair of strings."""
    if isinstance(item, Mapping):
        item = (item.get("name"), item.get("value"))
    if isinstance(item, tuple | list) and len(item) == 2:
        name, value = item
        if isinstance(name, str) and isinstance(value, str):
            return name, value
    return None


def _header_values(headers: list[tuple[str, str]], name: str) -> list[str]:
    """The values of every header called `name` (case-insensitive), in order."""
    return [value for header, value in headers if header.strip().lower() == name]
