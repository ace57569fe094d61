"""Call-time values for the `{{name}}` placeholders of a call's system prompt and first message.

Only Liquid's variable output is supported (`{{ name }}`, no filters or tags). Placeholders
under `system.` are the agent's own and are left as they are.
"""

import re
from collections.abc import Iterable
from typing import Any

PROMPT_KEYS = ("systemPrompt", "firstMessage")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")


def prompt_values(request: dict[str, Any], agent_config: dict[str, Any]) -> dict[str, str]:
    """The request's `variables` over the agent's `promptVariables` defaults."""
    defaults = {
        variable["name"]: variable["defaultValue"]
        for variable in agent_config.get("promptVariables") or []
        if variable.get("defaultValue") is not None
    }
    return {**defaults, **(request.get("variables") or {})}


def missing_names(texts: Iterable[str | None], values: dict[str, str]) -> list[str]:
    """The placeholders of `texts` that `values` do not fill, in order, once each."""
    names = (m.group(1) for text in texts if text for m in _PLACEHOLDER.finditer(text))
    wanted = (name for name in names if not name.startswith("system.") and name not in values)
    return list(dict.fromkeys(wanted))


def render(text: str, values: dict[str, str]) -> str:
    """`text` with every placeholder `values` fill replaced by its value."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)
