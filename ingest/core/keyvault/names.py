"""The mapping from dlt keys to Key Vault secret names, and back.

Key Vault names allow only letters, digits and dashes (1-127 characters, case-insensitive);
dlt keys are dotted paths of snake_case parts. The mapping:

    <prefix>--<part>--<part>...      each part with `_` written as `-`
    sources.sales_db.credentials  with prefix `dev`  ->  dev--sources--sales-db--credentials

It is unambiguous because every part is lowercase letters and digits joined by single
underscores (`[a-z0-9]+(_[a-z0-9]+)*`): a part never yields `--`, so splitting a name on `--`
gives back the prefix and the parts, and each `-` inside a part is an underscore. A key with
another part (uppercase, a double or trailing underscore, a dash or dot) has no secret name:
the provider does not look it up, and `unmappable_reason` says why.
"""

from __future__ import annotations

import re
from typing import Sequence

SEPARATOR = "--"
MAX_NAME = 127
PART = re.compile(r"^[a-z0-9]+(?:_[a-z0-9]+)*$")
PREFIX = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
"""An environment prefix: lowercase letters and digits, single dashes inside (dev, staging, prod-eu)."""


class UnmappableKeyError(ValueError):
    """A dlt key that has no Key Vault secret name; the message says why."""


def secret_name(prefix: str, parts: Sequence[str]) -> str:
    """The secret name of the dlt key made of `parts`, under the environment `prefix` ('' for none)."""
    reason = unmappable_reason(parts)
    if reason:
        raise UnmappableKeyError(f"{'.'.join(parts)}: {reason}")
    if prefix and not PREFIX.match(prefix):
        raise UnmappableKeyError(f"prefix {prefix!r} is not lowercase letters and digits with single dashes")
    name = SEPARATOR.join(([prefix] if prefix else []) + [p.replace("_", "-") for p in parts])
    if len(name) > MAX_NAME:
        raise UnmappableKeyError(f"{'.'.join(parts)}: the secret name would be longer than {MAX_NAME} characters")
    return name


def secret_name_for_key(prefix: str, key: str) -> str:
    """`secret_name` of a dotted dlt key such as `sources.sales_db.credentials`."""
    return secret_name(prefix, key.split("."))


def unmappable_reason(parts: Sequence[str]) -> str | None:
    if not parts:
        return "an empty key"
    for part in parts:
        if not PART.match(part):
            return (f"part {part!r} is not lowercase letters and digits joined by single underscores,"
                    " so it has no unambiguous Key Vault name")
    return None


def dlt_key(prefix: str, name: str) -> str | None:
    """The dotted dlt key a secret name stands for, or None when it is not under `prefix`."""
    pieces = name.lower().split(SEPARATOR)
    if prefix:
        if pieces[0] != prefix:
            return None
        pieces = pieces[1:]
    if not pieces or any(not PREFIX.match(p) for p in pieces):
        return None
    return ".".join(p.replace("-", "_") for p in pieces)
