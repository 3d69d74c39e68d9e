"""The plan: what a run does. The caller's request (request.py), which jobs are chosen, due
and in which dependency wave (planner.py), each job's load mode and window
(load_modes.py), and the units a wave's jobs run as, in the order both drivers start them
(flow.py: a job, a chunked job's steps, one connection's CDC jobs together).

May import: core, config, lake, checks, records."""
