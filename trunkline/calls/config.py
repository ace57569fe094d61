"""The pipeline config a call runs with, merged from layers, remembering where each field came from.

Precedence, lowest first: the phone number's `dispatchMetadataTemplate` (fills gaps), the agent,
the call request, the pre-call webhook. Metadata merges the same way, key by key.
"""

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from trunkline.pipeline import PipelineConfig

PIPELINE_KEYS = frozenset(f.alias or name for name, f in PipelineConfig.model_fields.items())
"""The camelCase keys a layer may set (the guide's supported pre-call override keys)."""


@dataclass
class ResolvedConfig:
    config: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    """Field → the layer that set it; metadata keys appear as `metadata.<key>`."""


def apply_layer(resolved: ResolvedConfig, source: str, layer: dict[str, Any]) -> None:
    """Lay `layer` over `resolved`: its fields win, its nulls and unknown keys never do."""
    for key, value in layer.items():
        if key == "metadata":
            for meta_key, meta_value in (value or {}).items():
                resolved.metadata[meta_key] = meta_value
                resolved.sources[f"metadata.{meta_key}"] = source
        elif key in PIPELINE_KEYS and value is not None:
            resolved.config[key] = value
            resolved.sources[key] = source


def resolve(layers: list[tuple[str, dict[str, Any]]]) -> ResolvedConfig:
    """Merge `(source, partial config)` layers in order of increasing precedence."""
    resolved = ResolvedConfig()
    for source, layer in layers:
        apply_layer(resolved, source, layer)
    return resolved


def split_template(rendered: dict[str, Any]) -> dict[str, Any]:
    """A rendered template as a layer: pipeline keys stay, everything else becomes metadata."""
    pipeline = {key: value for key, value in rendered.items() if key in PIPELINE_KEYS}
    metadata = {key: value for key, value in rendered.items() if key not in PIPELINE_KEYS}
    return {**pipeline, "metadata": metadata}


@dataclass
class PreCallOverrides:
    layer: dict[str, Any]
    ignored: list[str]
    """Keys that are not supported overrides."""
    invalid: dict[str, str]
    """Supported keys whose value did not validate, with why."""


def _camel(key: str) -> str:
    return key if key in PIPELINE_KEYS else to_camel(key)


def parse_pre_call_response(body: Any) -> PreCallOverrides:
    """Overrides from a pre-call webhook answer: top level or under pipelineConfig/pipeline_config.

    Raises ValueError when the answer is not a JSON object.
    """
    if not isinstance(body, dict):
        raise ValueError("the pre-call webhook must answer with a JSON object")
    nested = body.get("pipelineConfig", body.get("pipeline_config")) or {}
    if not isinstance(nested, dict):
        raise ValueError("pipelineConfig must be a JSON object")
    top = {k: v for k, v in body.items() if k not in ("pipelineConfig", "pipeline_config")}
    overrides = PreCallOverrides(layer={}, ignored=[], invalid={})
    for raw_key, value in {**top, **nested}.items():
        key = "metadata" if raw_key == "metadata" else _camel(raw_key)
        if key == "metadata":
            if isinstance(value, dict):
                overrides.layer["metadata"] = value
            else:
                overrides.invalid["metadata"] = "must be a JSON object"
        elif key not in PIPELINE_KEYS:
            overrides.ignored.append(raw_key)
        else:
            try:
                checked = PipelineConfig.model_validate({key: value})
            except ValidationError as exc:
                overrides.invalid[key] = exc.errors()[0]["msg"]
                continue
            overrides.layer[key] = checked.model_dump(mode="json", exclude_none=True).get(key)
    return overrides
