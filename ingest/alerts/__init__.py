"""Alert mails: a failure mail per run and a daily summary (see send.py for the entry point).

Kept import-light: `ingest.core.settings` and the workbook columns import `addresses` from here."""
