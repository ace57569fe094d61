"""Provider failures as our own types, so workflows decide on causes, not on SDK exceptions."""

from typing import Literal

FailureCause = Literal["busy", "no-answer", "rejected", "not-found", "unavailable", "error"]

_CAUSE_BY_SIP_CODE: dict[int, FailureCause] = {
    486: "busy",
    600: "busy",
    408: "no-answer",
    487: "no-answer",
    403: "rejected",
    603: "rejected",
    404: "not-found",
    484: "not-found",
    604: "not-found",
    410: "not-found",
    480: "unavailable",
    503: "unavailable",
}

SIP_REASON_PHRASES = {
    200: "OK",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    480: "Temporarily Unavailable",
    486: "Busy Here",
    487: "Request Terminated",
    503: "Service Unavailable",
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
}


def cause_for_sip_code(code: int | None) -> FailureCause:
    """The failure cause a SIP final response means; unknown codes are plain errors."""
    return _CAUSE_BY_SIP_CODE.get(code or 0, "error")


class ProviderError(Exception):
    """A provider call failed. `retryable` says whether trying the same call again may work."""

    retryable = False

    def __init__(self, message: str, *, provider: str) -> None:
        super().__init__(message)
        self.provider = provider


class ProviderUnavailable(ProviderError):
    """Transport failure or 5xx: the request may not have reached the provider; try again."""

    retryable = True


class ProviderRejected(ProviderError):
    """The provider refused the request (4xx other than a call outcome): fix the request."""

    def __init__(self, message: str, *, provider: str, code: str, status: int) -> None:
        super().__init__(message, provider=provider)
        self.code = code
        self.status = status


class CallFailed(ProviderError):
    """A dialled leg ended without being answered, or a transfer did not complete."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        cause: FailureCause,
        sip_status_code: int | None = None,
        sip_status: str | None = None,
    ) -> None:
        super().__init__(message, provider=provider)
        self.cause = cause
        self.sip_status_code = sip_status_code
        self.sip_status = sip_status
