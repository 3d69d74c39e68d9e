"""Chunked loads of one big table (README "Chunked loads"): the split, chunk and commit steps
each driver runs as a job process or an activity (tasks.py); the pure flow of a wave's units
both drivers follow is ingest/plan/flow.py.

May import: core, config, lake, checks, records, plan, sources, load."""
