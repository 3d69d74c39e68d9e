"""What a run tells people and monitors: a failure mail per run, a daily summary and a CDC lag
mail (send.py is the entry point; delivery.py sends each once, store.py and blob_store.py keep
the once-only markers), and one telemetry record per job and per run for Application
Insights (telemetry.py).

May import: core, config, lake, checks, records, plan, sources, load."""
