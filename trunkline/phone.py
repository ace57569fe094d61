"""Phone-number types: strict E.164."""

import re
from typing import Annotated

from pydantic import AfterValidator

_E164 = re.compile(r"\+[1-9]\d{6,14}")


def check_e164(value: str) -> str:
    """Accept only strict E.164: `+`, 7 to 15 digits, no punctuation; North America `+1` + 10."""
    if not _E164.fullmatch(value) or (value.startswith("+1") and len(value) != 12):
        raise ValueError("must be an E.164 number such as +14155550123")
    return value


def is_e164(value: str) -> bool:
    try:
        check_e164(value)
    except ValueError:
        return False
    return True


E164 = Annotated[str, AfterValidator(check_e164)]
