"""`--take-over` (run, plan) and `take_over` in the HTTP/ADF start body: the lake tables a run
may take from another job on purpose (issue 32, case 2). It travels in the run context to
every load, and belongs to the run's scope only when given."""

from __future__ import annotations

import json

import pytest

from ingest.cli import _parser, _request
from ingest.core.result import RunContext
from ingest.plan.request import RequestError, RunRequest


def test_the_start_body_takes_take_over_and_the_run_context_carries_it():
    request = RunRequest.from_dict({"take_over": ["orders", "customers"]})
    assert request.take_over == ("orders", "customers")
    assert RunRequest.from_dict(request.to_dict()) == request
    assert request.scope()["take_over"] == ["customers", "orders"]
    assert "take_over" not in RunRequest().scope()  # the default scope (singleton id) is unchanged
    run = RunContext(run_id="r", started_at="2024-01-01T00:00:00Z", take_over=request.take_over)
    assert RunContext.from_dict(json.loads(json.dumps(run.to_dict()))).take_over == ("orders", "customers")


def test_take_over_names_are_checked():
    with pytest.raises(RequestError, match="take_over"):
        RunRequest.from_dict({"take_over": ["../x"]})


@pytest.mark.parametrize("command", ["run", "plan"])
def test_the_cli_option(command):
    args = _parser().parse_args([command, "--config", "w.xlsx", "--take-over", "orders, customers"])
    assert _request(args).take_over == ("orders", "customers")
