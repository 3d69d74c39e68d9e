"""The parent run's events: START when the run begins (the local runner before its first job,
the Durable plan activity once the plan is made: ingest/drivers/local/runner.py,
ingest/drivers/azure/activities.py), dated at the run's start; COMPLETE when no job failed or
FAIL naming how many did, from the fan-in step (ingest/drivers/finalize.py), where both drivers
pass. Each job's events point at this run through their parent facet (the same runId, derived
from the ingest run id). A START that could not be sent is counted in the plan
(`lineage_start_failures`) and so in the run's summary."""

from __future__ import annotations

import logging
from typing import Any, Callable

from ingest.core.result import RunContext
from ingest.core.settings import Settings
from ingest.records.lineage import naming
from ingest.records.lineage.emitter import enabled
from ingest.records.lineage.jobs import emitter_for

log = logging.getLogger("ingest.lineage")


def emit_run_start(run: RunContext, settings: Settings) -> int:
    """Send the run's START; returns how many events were not sent (0 when off)."""
    def build(events: Any) -> Any:
        return events.run_event(events.RunState.START, settings.lineage_namespace,
                                naming.parent_run_id(run.run_id), run.started_at)

    return _send(run, settings, "START", build)


def emit_run_end(run: RunContext, summary: dict[str, Any], settings: Settings) -> int:
    """Send the run's end (COMPLETE, or FAIL naming how many jobs failed); returns how many
    events were not sent (0 when off)."""
    def build(events: Any) -> Any:
        from openlineage.client.facet_v2 import error_message_run

        end_facets: dict[str, Any] = {}
        state = events.RunState.COMPLETE
        if summary.get("failed"):
            state = events.RunState.FAIL
            end_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=f"{summary['failed']} of {summary.get('total', 0)} job(s) failed", programmingLanguage="python")
        return events.run_event(state, settings.lineage_namespace, naming.parent_run_id(run.run_id),
                                summary.get("finished_at") or events.now(), end_facets)

    return _send(run, settings, "end", build)


def _send(run: RunContext, settings: Settings, what: str, build: Callable[[Any], Any]) -> int:
    """Build one run event (given the events module) and send it; 1 when it was not sent, 0
    when it was or lineage is off. Never raises."""
    if not enabled(settings):
        return 0
    try:
        from ingest.records.lineage import events

        event = build(events)
    except Exception as exc:  # building failed: counted like a send failure
        log.warning("lineage %s of run %s not built: %s", what, run.run_id, type(exc).__name__)
        return 1
    return 0 if emitter_for(settings).emit(event) else 1
