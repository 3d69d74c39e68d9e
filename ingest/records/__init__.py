"""Records: what a run leaves behind for people and for the next run. The audit trail
(audit.py), the check results (check_results.py), the CSV trail files both use
(csv_files.py), their blob container on Azure (blob_sink.py) and the history of past runs
read back from the audit trail (history.py), which the plan uses for schedules and reruns.

May import: core, config, lake, checks."""
