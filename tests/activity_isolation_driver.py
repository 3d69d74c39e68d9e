"""A fresh process playing the Functions worker: the app's run orchestrator through the Durable
SDK's replay engine (tests/durable_driver.py), its activities called here, each load in a child
process (ingest/drivers/azure/isolation.py). tests/integration/test_activity_isolation.py starts
it inside a small memory cgroup, so the kernel's OOM killer acts on it and its children as it
would on a worker; the app settings come from the environment. Prints the run summary as JSON.

    python tests/activity_isolation_driver.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    from function_app import app
    from tests.durable_driver import DurableDriver

    outcome = DurableDriver(app).run("ingest_run_orchestrator", {}, "ingest-oom")
    print(json.dumps(outcome.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
