"""`dispatchMetadataTemplate`: JSON whose strings may hold `{{callerNumber}}`-style placeholders."""

import re
from typing import Annotated, Any

from pydantic import AfterValidator

from trunkline.pipeline import check_metadata_size

PLACEHOLDERS = ("callerNumber", "dialedNumber", "forwardedFromNumber")
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def check_template(template: dict[str, Any]) -> dict[str, Any]:
    """Refuse placeholders other than the documented ones, naming them."""
    check_metadata_size(template)
    used = {name for text in _strings(template) for name in _PLACEHOLDER.findall(text)}
    unknown = sorted(used - set(PLACEHOLDERS))
    if unknown:
        raise ValueError(
            f"unknown placeholder(s) {', '.join(unknown)}; use {', '.join(PLACEHOLDERS)}"
        )
    return template


DispatchTemplate = Annotated[dict[str, Any], AfterValidator(check_template)]


def render_template(template: Any, values: dict[str, str | None]) -> Any:
    """The template with every placeholder replaced; a missing value renders as empty text.

    A string that is exactly one placeholder becomes the value itself (so null stays null).
    """
    if isinstance(template, dict):
        return {key: render_template(item, values) for key, item in template.items()}
    if isinstance(template, list):
        return [render_template(item, values) for item in template]
    if not isinstance(template, str):
        return template
    whole = _PLACEHOLDER.fullmatch(template)
    if whole:
        return values.get(whole.group(1))
    return _PLACEHOLDER.sub(lambda match: values.get(match.group(1)) or "", template)
