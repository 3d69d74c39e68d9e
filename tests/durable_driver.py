"""Drive registered Durable orchestrators through the SDK's real replay engine.

No Functions host can run here, so this plays the Durable extension's part: it calls the
orchestrator handle with a history JSON (OrchestratorStarted, ExecutionStarted, TaskScheduled,
TaskCompleted / TaskFailed, TimerCreated / TimerFired, SubOrchestrationInstanceCreated /
Completed), executes for real the activities and sub-orchestrations the orchestrator asks for,
appends their results, and replays until the orchestration is done. Activity retries follow
the extension's semantics (a timer between attempts, one extra timer after the last failure).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

# ActionType values of azure.durable_functions.models.actions.ActionType
CALL_ACTIVITY, CALL_ACTIVITY_WITH_RETRY, CALL_SUB_ORCHESTRATOR = 0, 1, 2
# HistoryEventType values
EXECUTION_STARTED, TASK_SCHEDULED, TASK_COMPLETED, TASK_FAILED = 0, 4, 5, 6
SUB_CREATED, SUB_COMPLETED, SUB_FAILED, TIMER_CREATED, TIMER_FIRED = 7, 8, 9, 10, 11
ORCHESTRATOR_STARTED, ORCHESTRATOR_COMPLETED = 12, 13


_FUNCTIONS: dict[int, dict[str, Any]] = {}


def registered_functions(app) -> dict[str, Any]:
    """name -> function of an app; `app.get_functions()` may be called once per app object."""
    if id(app) not in _FUNCTIONS:
        _FUNCTIONS[id(app)] = {f.get_function_name(): f for f in app.get_functions()}
    return _FUNCTIONS[id(app)]


@dataclass
class Orchestration:
    output: Any
    custom_status: Any
    history: list[dict]
    states: list[dict] = field(default_factory=list)
    """Every JSON state the orchestrator returned, one per replay."""
    children: dict[str, "Orchestration"] = field(default_factory=dict)


class DurableDriver:
    def __init__(self, app, activity_hook: Callable[[str, Any, int], Any] | None = None,
                 start: datetime | None = None):
        self.functions = registered_functions(app)
        self.activity_hook = activity_hook
        self.clock = start or datetime(2026, 1, 5, 6, 0, tzinfo=timezone.utc)
        self.activity_calls: list[tuple[str, Any]] = []

    def _now(self) -> str:
        self.clock += timedelta(seconds=1)
        return self.clock.isoformat().replace("+00:00", "Z")

    def _event(self, event_type: int, event_id: int = -1, **extra: Any) -> dict:
        return {"EventType": event_type, "EventId": event_id, "IsPlayed": False, "Timestamp": self._now(), **extra}

    def handle(self, name: str):
        return self.functions[name].get_user_function()

    def replay(self, name: str, history: list[dict], instance_id: str, input_: Any) -> dict:
        context = {"history": history, "instanceId": instance_id, "isReplaying": False,
                   "parentInstanceId": None, "input": json.dumps(input_), "upperSchemaVersion": 0}
        return json.loads(self.handle(name)(json.dumps(context)))

    def run_activity(self, name: str, input_: Any, attempt: int) -> Any:
        self.activity_calls.append((name, input_))
        if self.activity_hook is not None:
            hooked = self.activity_hook(name, input_, attempt)
            if hooked is not None:
                return hooked
        return self.functions[name].get_user_function()(input_)

    def run(self, name: str, input_: Any, instance_id: str = "test-instance") -> Orchestration:
        history = [self._event(ORCHESTRATOR_STARTED),
                   self._event(EXECUTION_STARTED, Name=name, Version="", Input=json.dumps(input_))]
        done_actions = 0
        next_id = 0
        states: list[dict] = []
        children: dict[str, Orchestration] = {}
        for _ in range(10_000):
            state = self.replay(name, history, instance_id, input_)
            states.append(state)
            if state.get("error"):
                raise RuntimeError(f"orchestrator {name} failed: {state['error']}")
            if state.get("isDone"):
                return Orchestration(state.get("output"), state.get("customStatus"), history, states, children)
            actions = [a for group in state.get("actions", []) for a in group]
            new = actions[done_actions:]
            if not new:
                raise RuntimeError(f"orchestrator {name} is waiting on nothing the driver knows")
            done_actions = len(actions)
            history.append(self._event(ORCHESTRATOR_COMPLETED))
            ids = list(range(next_id, next_id + len(new)))
            next_id += len(new)
            completions: list[dict] = []
            for action, task_id in zip(new, ids):
                kind = action["actionType"]
                if kind == CALL_ACTIVITY:
                    history.append(self._event(TASK_SCHEDULED, task_id, Name=action["functionName"]))
                    completions.append(self._complete_activity(action, task_id, attempt=1))
                elif kind == CALL_SUB_ORCHESTRATOR:
                    child_id = action.get("instanceId") or f"{instance_id}:{task_id}"
                    history.append(self._event(SUB_CREATED, task_id, Name=action["functionName"], InstanceId=child_id))
                    child = self.run(action["functionName"], json.loads(action["input"]), child_id)
                    children[child_id] = child
                    completions.append(self._event(SUB_COMPLETED, TaskScheduledId=task_id,
                                                   Result=json.dumps(child.output)))
                elif kind == CALL_ACTIVITY_WITH_RETRY:
                    history.append(self._event(TASK_SCHEDULED, task_id, Name=action["functionName"]))
                    chain, next_id = self._retry_chain(action, task_id, next_id)
                    completions.extend(chain)
                else:
                    raise NotImplementedError(f"action type {kind} is not played by this driver")
            history.append(self._event(ORCHESTRATOR_STARTED))
            history.extend(completions)
        raise RuntimeError("orchestration did not finish")

    def _complete_activity(self, action: dict, task_id: int, attempt: int) -> dict:
        try:
            result = self.run_activity(action["functionName"], json.loads(action["input"]), attempt)
        except Exception as exc:
            return self._event(TASK_FAILED, TaskScheduledId=task_id, Reason=f"{type(exc).__name__}: {exc}",
                               Details="")
        return self._event(TASK_COMPLETED, TaskScheduledId=task_id, Result=json.dumps(result))

    def _retry_chain(self, action: dict, task_id: int, next_id: int) -> tuple[list[dict], int]:
        """The events the extension writes for an activity with retry: attempt, timer, attempt..."""
        attempts = action["retryOptions"]["maxNumberOfAttempts"]
        events: list[dict] = []
        current = task_id
        for attempt in range(1, attempts + 1):
            outcome = self._complete_activity(action, current, attempt)
            events.append(outcome)
            if outcome["EventType"] == TASK_COMPLETED:
                return events, next_id
            timer_id, next_id = next_id, next_id + 1
            events.append(self._event(TIMER_CREATED, timer_id, FireAt=self._now()))
            events.append(self._event(TIMER_FIRED, TimerId=timer_id, FireAt=self._now()))
            if attempt < attempts:
                current, next_id = next_id, next_id + 1
                events.append(self._event(TASK_SCHEDULED, current, Name=action["functionName"]))
        return events, next_id
