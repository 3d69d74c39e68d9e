"""OpenLineage events of a run (issue 25): a START and a COMPLETE, FAIL or ABORT event per job
load (jobs.py, called around ingest/load.py's run_job, so the local runner and the Durable
activities send the same), and a pair for the whole run (runs.py, from the fan-in step). Names
of datasets and runs (naming.py) are built from parsed parts, never from a credential; the
facets (facets.py) say what landed and how it was checked; the transport (emitter.py) comes
from the settings. The `openlineage-python` client is imported only when lineage is on. A
lineage failure never fails a load: it is logged and counted in the JobResult and summary.

May import: core, config, lake, checks."""
