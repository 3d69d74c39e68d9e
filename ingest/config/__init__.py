"""Workbook configuration: reading, the typed model, validation, template and write-back.

May import: core."""

from ingest.config.model import ConfigIssue, JobConfig, LoadType, SourceType, WorkbookConfig
from ingest.config.workbook import read_workbook

__all__ = ["ConfigIssue", "JobConfig", "LoadType", "SourceType", "WorkbookConfig", "read_workbook"]
