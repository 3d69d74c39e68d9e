"""POST /api/runs with run parameters and the timer's scheduled run, through the real
handlers and a fake Durable client (tests/unit/test_function_app.py): what starts, under
which singleton instance id, and what is refused."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

from ingest.drivers.azure import blueprint
from ingest.plan.request import RunRequest
from tests.unit.test_function_app import FakeDurableClient, call, post


def start(body: dict, client: FakeDurableClient | None = None):
    client = client or FakeDurableClient()
    response = call("start_run", post(json.dumps(body).encode()), client)
    return response, client


def test_parameters_reach_the_orchestration_input():
    body = {"tags": ["finance"], "force_full": True, "jobs": "sales_orders, hr"}
    response, client = start(body)
    assert response.status_code == 202
    ((name, instance_id, client_input),) = client.started
    assert client_input == {"trigger": "http", "request": {
        "jobs": ["sales_orders", "hr"], "tags": ["finance"], "rerun_failed": None, "force_full": True,
        "backfill": None, "apply_schedules": False, "dry_run": False}}
    assert instance_id == blueprint.scope_instance_id(RunRequest.from_dict(body))


def test_every_scope_parameter_gives_its_own_singleton():
    bodies = [{}, {"jobs": ["a"]}, {"jobs": ["a"], "force_full": True}, {"tags": ["a"]},
              {"rerun_failed": "20260105T020000Z-ingest-all"},
              {"jobs": ["a"], "backfill": {"start": "2024-01-01", "end": "2024-02-01"}},
              {"jobs": ["a"], "backfill": {"start": "2024-01-01", "end": "2024-03-01"}}]
    ids = [start(body)[1].started[0][1] for body in bodies]
    assert len(set(ids)) == len(ids) and ids[0] == "ingest-all" and ids[1].startswith("ingest-jobs-")
    # a running scope refuses only itself
    busy = FakeDurableClient(running={ids[2]})
    assert start(bodies[2], busy)[0].status_code == 409
    assert start(bodies[1], busy)[0].status_code == 202


def test_timer_applies_schedules_and_shares_the_singleton_with_a_manual_run_of_everything():
    client = FakeDurableClient()
    call("scheduled_run", SimpleNamespace(past_due=False), client)
    ((_, instance_id, client_input),) = client.started
    assert instance_id == "ingest-all" and client_input["trigger"] == "timer"
    assert client_input["request"]["apply_schedules"] is True
    busy = FakeDurableClient(running={"ingest-all"})
    assert start({}, busy)[0].status_code == 409  # the timer's run blocks a manual run of all jobs


def test_malformed_parameters_answer_400_naming_them():
    for body, message in [({"force_full": "yes"}, "force_full must be true or false"),
                          ({"backfill": {"start": "2024-03-01", "end": "2024-01-01"}}, "must be before end"),
                          ({"jobs": ["a"], "rerun_failed": "x"}, "do not combine"),
                          ({"job": ["a"]}, "unknown parameter(s): job"),
                          ({"backfill": "2024"}, "backfill must be an object")]:
        response, client = start(body)
        assert response.status_code == 400 and client.started == []
        assert message in json.loads(response.get_body())["error"]
    response, client = start([1, 2])  # type: ignore[arg-type]
    assert response.status_code == 400


class _AdfExpression:
    """Evaluates the small part of the ADF expression language the pipeline's StartRun body
    uses (concat, string, if, empty, json, pipeline().parameters.x, 'literals' with '' escapes),
    so the test checks the JSON that expression really produces, not a hand-made copy."""

    def __init__(self, text: str, parameters: dict):
        assert text.startswith("@")
        self.text, self.pos, self.parameters = text[1:], 0, parameters

    def evaluate(self):
        value = self._value()
        assert self.pos == len(self.text), self.text[self.pos:]
        return value

    def _skip(self):
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1

    def _value(self):
        self._skip()
        if self.text[self.pos] == "'":
            end, chunks = self.pos + 1, []
            while True:
                quote = self.text.index("'", end)
                chunks.append(self.text[end:quote])
                if self.text[quote + 1:quote + 2] == "'":
                    chunks.append("'")
                    end = quote + 2
                    continue
                self.pos = quote + 1
                return "".join(chunks)
        start = self.pos
        while self.text[self.pos].isalnum() or self.text[self.pos] == "_":
            self.pos += 1
        name = self.text[start:self.pos]
        assert self.text[self.pos] == "("
        self.pos += 1
        args = []
        self._skip()
        while self.text[self.pos] != ")":
            args.append(self._value())
            self._skip()
            if self.text[self.pos] == ",":
                self.pos += 1
        self.pos += 1
        if name == "pipeline":
            prefix = ".parameters."
            assert self.text.startswith(prefix, self.pos)
            self.pos += len(prefix)
            start = self.pos
            while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] == "_"):
                self.pos += 1
            return self.parameters[self.text[start:self.pos]]
        functions = {"concat": lambda *a: "".join(a), "string": lambda v: json.dumps(v, separators=(",", ":")),
                     "if": lambda c, a, b: a if c else b, "empty": lambda v: len(v) == 0, "json": json.loads}
        return functions[name](*args)


def test_adf_pipeline_body_is_a_request_the_api_accepts():
    from pathlib import Path

    pipeline = json.loads((Path(__file__).resolve().parents[2] / "infra" / "adf" / "ingest_pipeline.json").read_text())
    props = pipeline["properties"]
    defaults = {name: p["defaultValue"] for name, p in props["parameters"].items()}
    body_expression = next(a for a in props["activities"] if a["name"] == "StartRun")["typeProperties"]["body"]["value"]

    body = _AdfExpression(body_expression, defaults).evaluate()
    assert body == {"jobs": [], "tags": [], "force_full": False, "rerun_failed": None, "apply_schedules": False,
                    "take_over": [], "allow_shrink": []}
    response, client = start(body)
    assert response.status_code == 202 and client.started[0][1] == "ingest-all"

    chosen = {**defaults, "jobs": ["sales_orders"], "force_full": True, "rerun_failed": ""}
    body = _AdfExpression(body_expression, chosen).evaluate()
    response, client = start(body)
    assert client.started[0][2]["request"]["force_full"] is True
    assert client.started[0][2]["request"]["jobs"] == ["sales_orders"]
    refused, client = start({**body, "jobs": ["sales_*"]})  # force_full of every sales job: name them
    assert refused.status_code == 400 and client.started == []
    rerun = _AdfExpression(body_expression, {**defaults, "rerun_failed": "20260105T020000Z-ingest-all"}).evaluate()
    assert start(rerun)[1].started[0][2]["request"]["rerun_failed"] == "20260105T020000Z-ingest-all"
    taking = _AdfExpression(body_expression, {**defaults, "take_over": ["orders"]}).evaluate()
    assert start(taking)[1].started[0][2]["request"]["take_over"] == ["orders"]
    # the fail condition reads the run summary, the orchestration's output
    condition = next(a for a in props["activities"] if a["name"] == "FailWhenRunFailed")
    assert condition["typeProperties"]["expression"]["value"] == \
        "@or(not(equals(variables('runtimeStatus'), 'Completed')), greater(int(variables('failedJobs')), 0))"


def test_the_adf_pipeline_asks_for_exactly_the_run_parameters_the_app_reads():
    """Each pipeline parameter reaches the POST under the name the request reads, and the
    pipeline can ask for due jobs only (issue 27: its text said "every due job" while it never
    asked for schedules)."""
    pipeline = json.loads((Path(__file__).resolve().parents[2] / "infra" / "adf" / "ingest_pipeline.json").read_text())
    props = pipeline["properties"]
    defaults = {name: p["defaultValue"] for name, p in props["parameters"].items()}
    body_expression = next(a for a in props["activities"] if a["name"] == "StartRun")["typeProperties"]["body"]["value"]
    body = _AdfExpression(body_expression, defaults).evaluate()
    assert set(body) == set(defaults)
    assert set(defaults) <= {f.name for f in dataclasses.fields(RunRequest)}
    due = _AdfExpression(body_expression, {**defaults, "apply_schedules": True}).evaluate()
    response, client = start(due)
    assert response.status_code == 202 and client.started[0][2]["request"]["apply_schedules"] is True
