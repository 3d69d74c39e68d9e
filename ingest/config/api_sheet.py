"""The `api_endpoints` sheet: one row per rest_api job (joined to `jobs` by job_name),
describing the endpoint in the terms of dlt's rest_api source."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Sequence
from urllib.parse import parse_qsl, urlsplit

from ingest.config.columns import CellError, Column, parse_job_name, shown
from ingest.config.model import ApiAuth, ApiEndpoint, ConfigIssue, JobConfig, Paginator, SourceType
from ingest.config.sheets import read_header, read_records

API_SHEET = "api_endpoints"
_PARAM = re.compile(r"^[A-Za-z0-9_.\-\[\]]{1,100}$")
_SELECTOR = re.compile(r"^[A-Za-z0-9_.$\[\]*\-]{1,200}$")


def _url(value: Any) -> str:
    text = str(value).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CellError(f"base_url {shown(text)} is not an http(s) URL")
    if parts.username or parts.password:
        raise CellError("base_url must not carry credentials; give the API key's secret via the job's connection")
    if parts.query or parts.fragment:
        raise CellError(f"base_url {shown(text)} has a query or fragment; put query parameters in `params`")
    return text.rstrip("/")


def _path(value: Any) -> str:
    text = str(value).strip()
    if "://" in text or any(ch.isspace() for ch in text) or "?" in text or "#" in text:
        raise CellError(f"path {shown(text)} must be a path below base_url, without query (use `params`)")
    return text


def _params(value: Any) -> tuple[tuple[str, str], ...]:
    text = str(value).strip()
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise CellError(f"params {shown(text)} is not name=value pairs joined by & (e.g. vs_currency=usd&order=market_cap_desc)") from None
    for name, _ in pairs:
        if not _PARAM.match(name):
            raise CellError(f"params: parameter name {shown(name)} is not allowed")
    return tuple(pairs)


def _param_name(label: str):
    def parse(value: Any) -> str:
        text = str(value).strip()
        if not _PARAM.match(text):
            raise CellError(f"{label} {shown(text)} is not a plain parameter or field name")
        return text

    return parse


def _selector(label: str):
    def parse(value: Any) -> str:
        text = str(value).strip()
        if not _SELECTOR.match(text):
            raise CellError(f"{label} {shown(text)} is not a JSON path such as data or $.results")
        return text

    return parse


def _int_between(label: str, low: int, high: int):
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise CellError(f"{label} {value} is a boolean, not a whole number")
        try:
            number = int(float(value))
        except (TypeError, ValueError):
            raise CellError(f"{label} {shown(value)} is not a whole number") from None
        if float(value) != number or not low <= number <= high:
            raise CellError(f"{label} {shown(value)} is not a whole number from {low} to {high}")
        return number

    return parse


def _enum(enum_type: type, label: str):
    allowed = [m.value for m in enum_type]

    def parse(value: Any) -> Any:
        try:
            return enum_type(str(value).strip().lower())
        except ValueError:
            raise CellError(f"{label} {shown(value)} is not one of {', '.join(allowed)}") from None

    return parse


API_COLUMNS: tuple[Column, ...] = (
    Column("job_name", True, parse_job_name, "The rest_api job in the jobs sheet.", "coingecko_markets"),
    Column("base_url", True, _url, "Scheme and host (and a base path) of the API; no credentials, no query.",
           "https://api.coingecko.com/api/v3"),
    Column("path", True, _path, "Endpoint path below base_url.", "coins/markets"),
    Column("params", False, _params, "Fixed query parameters, name=value joined by &.", "vs_currency=usd&order=market_cap_desc"),
    Column("data_selector", False, _selector("data_selector"),
           "JSON path of the records in a page (empty: dlt finds the list).", "data"),
    Column("paginator", True, _enum(Paginator, "paginator"), "How pages follow each other.", "page_number",
           tuple(m.value for m in Paginator)),
    Column("page_size", False, _int_between("page_size", 1, 100_000), "Records asked per page.", "100"),
    Column("page_size_param", False, _param_name("page_size_param"),
           "Request parameter carrying page_size (per_page, limit, ...).", "per_page"),
    Column("page_param", False, _param_name("page_param"),
           "page_number: the page parameter (default page); offset: the offset parameter (default offset).", "page"),
    Column("start_page", False, _int_between("start_page", 0, 1_000_000), "page_number: first page (default 1).", "1"),
    Column("cursor_path", False, _selector("cursor_path"),
           "cursor: JSON path of the next cursor in a page; json_link: JSON path of the next page's URL.", "next_cursor"),
    Column("cursor_param", False, _param_name("cursor_param"), "cursor: request parameter that takes the cursor.", "cursor"),
    Column("incremental_param", False, _param_name("incremental_param"),
           "INCREMENTAL jobs: request parameter that takes the last watermark (the API filters);"
           " empty: every page is read and dlt keeps only newer records.", "updated_since"),
    Column("auth", False, _enum(ApiAuth, "auth"), "How the API key is sent (its value is a secret).", "api_key_header",
           tuple(m.value for m in ApiAuth)),
    Column("auth_param", False, _param_name("auth_param"), "api_key_*: header or query parameter name.", "x-cg-pro-api-key"),
)


def _endpoint_rules(values: dict[str, Any], ref) -> list[tuple[str, str]]:
    """(column, message) for rules spanning several cells of one row."""
    problems = []
    paginator = values.get("paginator")
    if paginator is Paginator.CURSOR:
        problems += [(c, f"{c} is required for paginator cursor") for c in ("cursor_path", "cursor_param") if not values.get(c)]
    if paginator is Paginator.JSON_LINK and not values.get("cursor_path"):
        problems.append(("cursor_path", "cursor_path (the next page's URL) is required for paginator json_link"))
    if paginator is Paginator.OFFSET and not values.get("page_size"):
        problems.append(("page_size", "page_size is required for paginator offset"))
    if values.get("page_size") and not values.get("page_size_param") and paginator is not Paginator.OFFSET:
        problems.append(("page_size_param", "page_size_param is required to send page_size"))
    if values.get("auth") in (ApiAuth.API_KEY_HEADER, ApiAuth.API_KEY_QUERY) and not values.get("auth_param"):
        problems.append(("auth_param", "auth_param (the header or query parameter name) is required for an API key"))
    return problems


def attach_api_endpoints(rows: Sequence[Sequence[Any]] | None, jobs: list[JobConfig],
                         issues: list[ConfigIssue]) -> tuple[list[JobConfig], dict[int, str]]:
    """Join the sheet to the rest_api jobs. Returns the jobs (rest_api ones carrying their
    endpoint) and the jobs rows that must be rejected (row -> job_name)."""
    rest_jobs = {j.job_name: j for j in jobs if j.source_type is SourceType.REST_API}
    endpoints: dict[str, ApiEndpoint] = {}
    rejected: dict[int, str] = {}
    if rows:
        header = read_header(API_SHEET, rows[0], API_COLUMNS, issues)
        if header is not None:
            seen: dict[str, int] = {}
            for record in read_records(API_SHEET, rows[1:], header, API_COLUMNS):
                name = record.values.get("job_name")
                record.issues += [ConfigIssue(API_SHEET, record.ref(header, c), m, job_name=name)
                                  for c, m in _endpoint_rules(record.values, None)]
                if name is not None and name in seen:
                    record.issues.append(ConfigIssue(API_SHEET, record.ref(header, "job_name"),
                                                     f"job '{name}' already has a row ({seen[name]})", job_name=name))
                elif name is not None and name not in rest_jobs:
                    record.issues.append(ConfigIssue(API_SHEET, record.ref(header, "job_name"),
                                                     f"no rest_api job named '{name}' in the jobs sheet", job_name=name))
                elif name is not None:
                    seen[name] = record.row
                    job = rest_jobs[name]
                    if record.values.get("auth", ApiAuth.NONE) is not ApiAuth.NONE and not job.connection:
                        record.issues.append(ConfigIssue(API_SHEET, record.ref(header, "auth"),
                                                         f"auth needs the API key's secret: set connection of job"
                                                         f" '{name}' (jobs row {job.row})", job_name=name))
                issues.extend(record.issues)
                if name in rest_jobs and record.issues:
                    rejected[rest_jobs[name].row] = name
                elif name in rest_jobs:
                    values = {k: v for k, v in record.values.items() if k != "job_name"}
                    endpoints[name] = ApiEndpoint(row=record.row, **values)
    result = []
    for job in jobs:
        if job.source_type is not SourceType.REST_API:
            result.append(job)
        elif job.job_name in endpoints:
            result.append(replace(job, api=endpoints[job.job_name]))
        elif job.row not in rejected:
            issues.append(ConfigIssue("jobs", f"A{job.row}", f"rest_api job '{job.job_name}' has no row in the"
                                      f" {API_SHEET} sheet", job_name=job.job_name))
            rejected[job.row] = job.job_name
    return result, rejected
