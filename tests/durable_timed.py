"""A DurableDriver whose sub-orchestrations take time: each child's completion is held back
until its simulated duration has passed, and completions reach the history one moment at a
time, in the order they finish (as the Durable extension delivers them). Activities finish at
once. Used to test the run orchestrator's sliding window (at most N units in flight, the next
started as soon as one ends) without a Functions host."""

from __future__ import annotations

import heapq
import json
from typing import Any, Callable

from tests.durable_driver import (CALL_ACTIVITY, CALL_SUB_ORCHESTRATOR, EXECUTION_STARTED, ORCHESTRATOR_COMPLETED,
                                  ORCHESTRATOR_STARTED, SUB_COMPLETED, SUB_CREATED, TASK_SCHEDULED, DurableDriver,
                                  Orchestration)


class TimedDurableDriver(DurableDriver):
    def __init__(self, app, duration: Callable[[dict], float], **kwargs: Any):
        super().__init__(app, **kwargs)
        self.duration = duration
        self.spans: dict[str, tuple[float, float]] = {}
        """Sub-orchestration instance id -> (simulated start, end)."""
        self.in_flight_peak = 0

    def run_timed(self, name: str, input_: Any, instance_id: str = "test-instance") -> Orchestration:
        history = [self._event(ORCHESTRATOR_STARTED),
                   self._event(EXECUTION_STARTED, Name=name, Version="", Input=json.dumps(input_))]
        done_actions, next_id, now = 0, 0, 0.0
        pending: list[tuple[float, int, dict]] = []  # (finish time, order, completion event)
        order = 0
        for _ in range(10_000):
            state = self.replay(name, history, instance_id, input_)
            if state.get("error"):
                raise RuntimeError(f"orchestrator {name} failed: {state['error']}")
            if state.get("isDone"):
                return Orchestration(state.get("output"), state.get("customStatus"), history)
            actions = [a for group in state.get("actions", []) for a in group]
            new, done_actions = actions[done_actions:], len(actions)
            history.append(self._event(ORCHESTRATOR_COMPLETED))
            for action in new:
                task_id, next_id = next_id, next_id + 1
                if action["actionType"] == CALL_ACTIVITY:
                    history.append(self._event(TASK_SCHEDULED, task_id, Name=action["functionName"]))
                    event, finish = self._complete_activity(action, task_id, attempt=1), now
                elif action["actionType"] == CALL_SUB_ORCHESTRATOR:
                    child_id = action["instanceId"]
                    history.append(self._event(SUB_CREATED, task_id, Name=action["functionName"], InstanceId=child_id))
                    child_input = json.loads(action["input"])
                    child = self.run(action["functionName"], child_input, child_id)
                    finish = now + self.duration(child_input)
                    self.spans[child_id] = (now, finish)
                    event = self._event(SUB_COMPLETED, TaskScheduledId=task_id, Result=json.dumps(child.output))
                else:
                    raise NotImplementedError(action["actionType"])
                heapq.heappush(pending, (finish, order, event))
                order += 1
            self.in_flight_peak = max(self.in_flight_peak, sum(1 for f, _, _ in pending if f > now))
            if not pending:
                raise RuntimeError("the orchestrator waits on nothing")
            now = pending[0][0]  # the next moment something finishes: deliver what finished then
            history.append(self._event(ORCHESTRATOR_STARTED))
            while pending and pending[0][0] == now:
                history.append(heapq.heappop(pending)[2])
        raise RuntimeError("orchestration did not finish")
