"""Alert mails: a failure mail per run and a daily summary (see send.py for the entry point).

Kept import-light: `ingest.settings` and the workbook columns import `addresses` from here."""
