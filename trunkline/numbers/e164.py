"""Phone-number types: strict E.164."""

import re
from typing import Annotated

from pydantic import AfterValidator, Field

E164_PATTERN = r"^(?:\+1[0-9]{10}|\+[2-9][0-9]{6,14})$"
"""`+`, then 7 to 15 ASCII digits (never `\\d`, which takes any script's), `+1` with 10 more."""

_E164 = re.compile(E164_PATTERN)


def check_e164(value: str) -> str:
    """Accept only strict E.164: `+`, 7 to 15 ASCII digits, nothing else; `+1` takes 10 more."""
    if not _E164.fullmatch(value):
        raise ValueError("must be an E.164 number such as +14155550123")
    return value


def is_e164(value: str) -> bool:
    try:
        check_e164(value)
    except ValueError:
        return False
    return True


E164 = Annotated[
    str,
    AfterValidator(check_e164),
    Field(
        json_schema_extra={"pattern": E164_PATTERN},
        description="E.164: `+` and 7 to 15 ASCII digits; `+1` numbers have 10 after it.",
        examples=["+14155550123"],
    ),
]


def national_format(e164: str) -> str:
    """How people write the number at home: `(415) 555-0100` for +1 numbers, else as given."""
    if len(e164) == 12 and e164.startswith("+1"):
        return f"({e164[2:5]}) {e164[5:8]}-{e164[8:]}"
    return e164
