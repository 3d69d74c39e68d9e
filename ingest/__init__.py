"""Metadata-driven ingestion: an Excel workbook of jobs -> dlt loads -> Azure Data Lake."""

__version__ = "0.1.0"
