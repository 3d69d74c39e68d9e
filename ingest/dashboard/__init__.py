"""The dashboard: one self-contained HTML page drawn from the audit trail (`python -m ingest
dashboard` locally, `GET /api/dashboard` on Azure). model.py computes, sources.py reads,
render.py writes the page; static/ holds the vendored Chart.js.

May import: core, config, lake, checks, records, plan, sources, load, alerts."""
