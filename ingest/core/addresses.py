"""Mail addresses as written in a setting or a workbook cell: plain addresses separated by
commas or semicolons. Strict on purpose: an address can never carry a header or a name."""

from __future__ import annotations

import re

ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


class AddressError(ValueError):
    """A text holds something that is not a plain mail address; the message says which part."""


def parse_addresses(text: str) -> tuple[str, ...]:
    """`a@x.org, b@y.org; c@z.org` -> the addresses in order, without duplicates (case-insensitive)."""
    found: list[str] = []
    seen: set[str] = set()
    for part in re.split(r"[,;]", text):
        address = part.strip()
        if not address:
            continue
        if not ADDRESS.match(address):
            shown = address if len(address) <= 60 else address[:57] + "..."
            raise AddressError(f"{shown!r} is not a mail address (name@domain)")
        if address.lower() not in seen:
            seen.add(address.lower())
            found.append(address)
    return tuple(found)
