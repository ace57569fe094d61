"""Scripted far ends: how the party at a number behaves when the simulator dials it."""

from typing import Literal

from pydantic import ConfigDict, Field

from trunkline.pipeline import ApiModel

Behaviour = Literal[
    "answer", "no-answer", "busy", "unavailable", "not-found", "declined", "voicemail"
]

SIP_FAILURES: dict[str, tuple[int, str]] = {
    "busy": (486, "Busy Here"),
    "unavailable": (480, "Temporarily Unavailable"),
    "not-found": (404, "Not Found"),
    "declined": (603, "Decline"),
}
"""The SIP final response each refusing behaviour answers with."""


class ScriptModel(ApiModel):
    """camelCase on the control API, snake_case in Python (tests build scripts directly)."""

    model_config = ConfigDict(validate_by_name=True)


class SpokenLine(ScriptModel):
    text: str
    after_seconds: float = Field(0, ge=0, description="Offset from the moment the leg connects.")


class FarEnd(ScriptModel):
    """A party we dial (an outbound call, a transfer target, a consultation leg)."""

    behaviour: Behaviour = "answer"
    placed_after_seconds: float = Field(
        0, ge=0, description="How long LiveKit takes to put the leg in the room (overloaded)."
    )
    answer_after_seconds: float = Field(0.5, ge=0)
    hangup_after_seconds: float | None = Field(
        20, ge=0, description="After answering; null stays on the line until we hang up."
    )
    transcript: list[SpokenLine] = []
    carrier_amd: bool = Field(
        True, description="Whether the carrier's answering-machine detection reaches a verdict."
    )
    transfer_decision: Literal["accept", "decline", "wait"] = Field(
        "accept",
        description="What this person says when screened for a warm transfer; `wait`: the "
        "screening agent decides nothing, so the API's complete or cancel does.",
    )


class Caller(ScriptModel):
    """The person placing an inbound call."""

    hangup_after_seconds: float | None = Field(
        20, ge=0, description="After being bridged; null stays until we hang up."
    )
    give_up_after_seconds: float = Field(30, ge=0, description="If nobody answers.")
    transcript: list[SpokenLine] = []


_DEFAULTS_BY_SUFFIX: dict[str, FarEnd] = {
    "0486": FarEnd(behaviour="busy"),
    "0480": FarEnd(behaviour="unavailable"),
    "0404": FarEnd(behaviour="not-found"),
    "0603": FarEnd(behaviour="declined"),
    "0408": FarEnd(behaviour="no-answer"),
    "0999": FarEnd(
        behaviour="voicemail",
        transcript=[SpokenLine(text="Hi, you've reached Sam. Leave a message after the tone.")],
        hangup_after_seconds=15,
    ),
}
"""Dev-stack defaults by the number's last four digits (documented in the README)."""


class Directory:
    """Far ends by dialled number: scripted ones first, then the suffix defaults."""

    def __init__(self, default: FarEnd | None = None) -> None:
        self.default = default or FarEnd()
        self._scripted: dict[str, FarEnd] = {}

    def script(self, number: str, far_end: FarEnd) -> None:
        self._scripted[number] = far_end

    def forget(self, number: str) -> None:
        self._scripted.pop(number, None)

    def lookup(self, number: str) -> FarEnd:
        if number in self._scripted:
            return self._scripted[number]
        return _DEFAULTS_BY_SUFFIX.get(number[-4:], self.default)
