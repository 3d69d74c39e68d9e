"""Build a dlt `rest_api` resource for one rest_api job from its `api_endpoints` row.
Pagination, incremental cursors and record selection are dlt's; this module only translates
the workbook's terms into dlt's config and supplies the API key and the HTTP session, which
sends nothing to a host the connection does not allow (ingest/sources/hosts.py)."""

from __future__ import annotations

from typing import Any

import dlt
from dlt.sources.rest_api import rest_api_resources

from ingest.config.model import ApiAuth, ApiEndpoint, JobConfig, Paginator
from ingest.core.errors import MissingCredentialsError
from ingest.core.redact import register_secret
from ingest.sources.credential_source import env_var_name
from ingest.core.retry import HttpPolicy
from ingest.sources.hosts import host_policy
from ingest.sources.http import make_session


def api_key_key(connection: str) -> str:
    return f"sources.{connection}.api_key"


def resolve_api_key(job: JobConfig) -> str:
    key = api_key_key(job.connection or "")
    try:
        value = dlt.secrets.get(key)
    except Exception as exc:
        raise MissingCredentialsError(f"job '{job.job_name}': API key {key} could not be read ({type(exc).__name__})") from None
    if not value:
        env = env_var_name(job.connection or "").replace("__CREDENTIALS", "__API_KEY")
        raise MissingCredentialsError(f"job '{job.job_name}': no API key found for connection '{job.connection}';"
                                      f" set {env} or [sources.{job.connection}] api_key in .dlt/secrets.toml")
    register_secret(str(value))
    return str(value)


def _paginator(api: ApiEndpoint) -> dict[str, Any] | str:
    if api.paginator is Paginator.PAGE_NUMBER:
        return {"type": "page_number", "page_param": api.page_param or "page",
                "base_page": api.start_page if api.start_page is not None else 1,
                "total_path": None, "stop_after_empty_page": True}
    if api.paginator is Paginator.OFFSET:
        return {"type": "offset", "limit": api.page_size, "offset_param": api.page_param or "offset",
                "limit_param": api.page_size_param or "limit", "total_path": None, "stop_after_empty_page": True}
    if api.paginator is Paginator.CURSOR:
        return {"type": "cursor", "cursor_path": api.cursor_path, "cursor_param": api.cursor_param}
    if api.paginator is Paginator.JSON_LINK:
        return {"type": "json_link", "next_url_path": api.cursor_path}
    if api.paginator is Paginator.HEADER_LINK:
        return {"type": "header_link"}
    return {"type": "single_page"}


def _auth(api: ApiEndpoint, key: str | None) -> dict[str, Any] | None:
    if api.auth is ApiAuth.BEARER:
        return {"type": "bearer", "token": key}
    if api.auth in (ApiAuth.API_KEY_HEADER, ApiAuth.API_KEY_QUERY):
        location = "header" if api.auth is ApiAuth.API_KEY_HEADER else "query"
        return {"type": "api_key", "name": api.auth_param, "api_key": key, "location": location}
    return None


def build_rest_resource(job: JobConfig, policy: HttpPolicy, window: Any = None) -> Any:
    """The dlt resource that pages through this job's endpoint. `window`
    (ingest.plan.load_modes.LoadWindow): start from `window.start` instead of the workbook's
    watermark (a full refresh passes None: every record)."""
    api = job.api
    assert api is not None, "rest_api jobs carry their endpoint (ingest.config.api_sheet)"
    key = resolve_api_key(job) if api.auth is not ApiAuth.NONE else None
    hosts = host_policy(job.job_name, job.connection, sends_credential=key is not None)
    hosts.check(api.base_url, f"base_url (api_endpoints row {api.row})")
    params: dict[str, Any] = dict(api.params)
    if api.page_size and api.paginator is not Paginator.OFFSET and api.page_size_param:
        params[api.page_size_param] = api.page_size
    endpoint: dict[str, Any] = {"path": api.path, "params": params}
    if api.data_selector:
        endpoint["data_selector"] = api.data_selector
    if job.is_incremental:
        start = job.last_watermark if window is None else window.start
        incremental: dict[str, Any] = {"cursor_path": job.watermark_column, "initial_value": start}
        if window is not None and window.end is not None:
            incremental["end_value"] = window.end
        if api.incremental_param:
            incremental["start_param"] = api.incremental_param
        endpoint["incremental"] = incremental
    secret_params = (api.auth_param,) if api.auth is ApiAuth.API_KEY_QUERY and api.auth_param else ()
    client: dict[str, Any] = {"base_url": api.base_url.rstrip("/") + "/", "paginator": _paginator(api),
                              "session": make_session(policy, secret_params, hosts)}
    auth = _auth(api, key)
    if auth:
        client["auth"] = auth
    resource: dict[str, Any] = {
        "name": job.table_name,
        "endpoint": endpoint,
        "write_disposition": "append" if job.is_incremental else "replace",
    }
    if job.primary_key:
        resource["primary_key"] = list(job.primary_key)
    (built,) = rest_api_resources({"client": client, "resources": [resource]})
    return built
