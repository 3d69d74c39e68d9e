"""The Bicep under infra/, read with pycep-parser (no Bicep compiler can be installed here):
the files, their parse trees, and the Function App's app settings."""

from __future__ import annotations

import functools
from pathlib import Path

from pycep import BicepParser

REPO = Path(__file__).resolve().parents[1]
INFRA = REPO / "infra"
FUNCTION_APP = INFRA / "modules" / "function-app.bicep"


def bicep_files() -> list[Path]:
    """Every .bicep file under infra/, whoever added it."""
    return sorted(INFRA.rglob("*.bicep"))


@functools.cache
def parse(path: Path) -> dict:
    return BicepParser().parse(file_path=path)


def unquote(key: str) -> str:
    """pycep keeps the quotes of a quoted object key ('azd-env-name')."""
    return key[1:-1] if len(key) > 1 and key[0] == key[-1] == "'" else key


def plain_app_settings() -> dict[str, str]:
    """`plainSettings` of the Function App: name -> value as written (an identifier such as
    `configUrl` is a parameter, `${...}` an interpolation)."""
    value = parse(FUNCTION_APP)["variables"]["plainSettings"]["value"]
    return {unquote(k): v for k, v in value.items()}


def reference_setting() -> dict:
    """The for-expression that turns each name of `keyVaultReferenceSettings` into an app
    setting: {'name': ..., 'value': ...} of one item."""
    return parse(FUNCTION_APP)["variables"]["referenceSettings"]["value"]


def resources(path: Path) -> dict[str, dict]:
    return parse(path).get("resources", {})
