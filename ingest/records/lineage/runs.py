"""The parent run's events, sent from the fan-in step (ingest/drivers/finalize.py), where the
local runner and the Durable orchestrator both pass: START, dated at the run's start, then
COMPLETE when no job failed or FAIL naming how many did. Each job's events point at this run
through their parent facet (the same runId, derived from the ingest run id).

The START goes out at fan-in, not when the run begins: the drivers have no common place
before the jobs start (the Durable plan step is replayed, the local runner forks), and a
consumer orders events by eventTime. A run that dies before its fan-in leaves job events
whose parent has none."""

from __future__ import annotations

import logging
from typing import Any

from ingest.core.result import RunContext
from ingest.core.settings import Settings
from ingest.records.lineage import naming
from ingest.records.lineage.emitter import enabled
from ingest.records.lineage.jobs import emitter_for

log = logging.getLogger("ingest.lineage")


def emit_run_events(run: RunContext, summary: dict[str, Any], settings: Settings) -> int:
    """Send the run's START and its end; returns how many events were not sent (0 when off)."""
    if not enabled(settings):
        return 0
    failures = 0
    try:
        from ingest.records.lineage import events
        from openlineage.client.facet_v2 import error_message_run

        run_id = naming.parent_run_id(run.run_id)
        namespace = settings.lineage_namespace
        end_facets: dict[str, Any] = {}
        state = events.RunState.COMPLETE
        if summary.get("failed"):
            state = events.RunState.FAIL
            end_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                message=f"{summary['failed']} of {summary.get('total', 0)} job(s) failed", programmingLanguage="python")
        emitted = [events.run_event(events.RunState.START, namespace, run_id, run.started_at),
                   events.run_event(state, namespace, run_id, summary.get("finished_at") or events.now(), end_facets)]
    except Exception as exc:  # building failed: counted like a send failure, never raised
        log.warning("lineage events of run %s not built: %s", run.run_id, type(exc).__name__)
        return 2
    emitter = emitter_for(settings)
    for event in emitted:
        failures += 0 if emitter.emit(event) else 1
    return failures
