"""The LLM analyzer: any OpenAI-compatible `/chat/completions` endpoint writes the summary,
outcome and structured data. Callback times and costs stay with the deterministic rules."""

import json
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError

from trunkline.reports.analysis.rules import OUTCOMES, Analysis, CallFacts

INSTRUCTIONS = """You analyse a finished phone call between an AI agent and a person.
Answer with one JSON object and nothing else:
{"summary": "<2-4 sentences>", "outcome": "<one of: %s>",
 "structured_data": {<one key per field asked for; null when not said>}}"""


class LlmAnalysisFailed(Exception):
    """The endpoint failed or answered with something unusable; the message says which."""


class _Answer(BaseModel):
    summary: str
    outcome: str
    structured_data: dict[str, Any] = {}


class LlmAnalyzer:
    def __init__(
        self, http: httpx.AsyncClient, base_url: str, api_key: str, model: str, timeout: float
    ) -> None:
        self._http = http
        self._url = f"{base_url.rstrip('/')}/chat/completions"
        self._api_key = api_key
        self._model = model
        self._timeout = timeout

    async def analyze(self, facts: CallFacts, fallback: Analysis, prompt: str | None) -> Analysis:
        """The LLM's analysis (the rules' callback kept); raises `LlmAnalysisFailed`."""
        content = await self._complete(self._messages(facts, prompt))
        try:
            answer = _Answer.model_validate(json.loads(content))
        except (ValueError, ValidationError) as exc:
            raise LlmAnalysisFailed(f"unusable answer: {exc}") from exc
        if answer.outcome not in OUTCOMES:
            raise LlmAnalysisFailed(f"unknown outcome {answer.outcome!r}")
        said = {key: value for key, value in answer.structured_data.items() if value is not None}
        data = {**fallback.structured_data, **said}
        return Analysis(
            summary=answer.summary,
            outcome=answer.outcome,
            structured_data=data,
            callback=fallback.callback,
        )

    def _messages(self, facts: CallFacts, prompt: str | None) -> list[dict[str, str]]:
        fields = [f"{rule.name} ({rule.type}): {rule.description or ''}" for rule in facts.rules]
        lines = [
            f"{'Caller' if role == 'user' else 'Agent'}: {text}" for role, text in facts.transcript
        ]
        call = (
            f"{facts.direction} call with {facts.party}, status {facts.status}, "
            f"ended because {facts.ended_reason}, {round(facts.talk_seconds)} s of talk."
        )
        system = INSTRUCTIONS % ", ".join(OUTCOMES)
        if prompt:
            system += f"\n\n{prompt}"
        user = "\n".join(
            [call, "Fields to extract: " + ("; ".join(fields) or "none"), "Transcript:", *lines]
        )
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    async def _complete(self, messages: list[dict[str, str]]) -> str:
        body = {
            "model": self._model,
            "messages": messages,
            "temperature": 0,
            "response_format": {"type": "json_object"},
        }
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        try:
            response = await self._http.post(
                self._url, json=body, headers=headers, timeout=self._timeout
            )
        except httpx.HTTPError as exc:
            raise LlmAnalysisFailed(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise LlmAnalysisFailed(f"HTTP {response.status_code}: {response.text[:200]}")
        try:
            return str(response.json()["choices"][0]["message"]["content"])
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise LlmAnalysisFailed(f"not a chat completion: {exc}") from exc
