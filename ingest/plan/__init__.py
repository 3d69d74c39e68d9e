"""The plan: what a run does. The caller's request (request.py), which jobs are chosen, due
and in which dependency wave (planner.py), and each job's load mode and window
(load_modes.py).

May import: core, config, lake, checks, records."""
