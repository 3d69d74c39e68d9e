"""Every setting the code reads is an app setting in the Bicep and a value in
local.settings.json.example, and the other way round; failures name the setting and where it
is missing. Names read by the Functions host or an Azure SDK rather than by ingest are listed
below with their reader, so an unknown name cannot slip through as "platform"."""

from __future__ import annotations

import json
import re

from ingest.lake.destination import make_destination
from ingest.core.keyvault.names import secret_name_for_key
from ingest.core.settings import Settings
from tests.docs_pages import docs_page
from tests.bicep import FUNCTION_APP, REPO, parse, plain_app_settings, reference_setting

BICEP_PLACE = "infra/modules/function-app.bicep (plainSettings)"
EXAMPLE_PLACE = "local.settings.json.example"

# App settings on Azure that ingest's code does not read, with their reader.
AZURE_PLATFORM = {
    "AzureWebJobsStorage__credential": "Functions host: host storage with the managed identity",
    "AzureWebJobsStorage__clientId": "Functions host: which user-assigned identity",
    "AzureWebJobsStorage__blobServiceUri": "Functions host: leases, keys",
    "AzureWebJobsStorage__queueServiceUri": "Durable Functions task hub: control and work-item queues",
    "AzureWebJobsStorage__tableServiceUri": "Durable Functions task hub: history and instances tables",
    "AzureWebJobsFeatureFlags": "Functions host: Python v2 worker indexing",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "Functions host: telemetry",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Functions host: telemetry with an Entra ID token",
    "AZURE_CLIENT_ID": "azure-identity's DefaultAzureCredential (blobs, lake, Key Vault): the user-assigned identity",
}
# Values in local.settings.json.example that ingest's code does not read, with their reader.
LOCAL_PLATFORM = {
    "FUNCTIONS_WORKER_RUNTIME": "Core Tools; Flex Consumption takes functionAppConfig.runtime instead",
    "AzureWebJobsStorage": "Core Tools with Azurite; on Azure the identity-based AzureWebJobsStorage__*",
    "AzureWebJobsFeatureFlags": "Functions host: Python v2 worker indexing",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "Functions host; ingest.alerts.telemetry exports with it when the"
                                             " optional azure-monitor-opentelemetry package is installed",
}
# Read by the code, deliberately absent on Azure.
LOCAL_ONLY = {
    "INGEST_AZURE_STORAGE_CONNECTION_STRING": "an account key (Azurite); unset on Azure, where blobs and"
                                              " the lake are reached with the managed identity",
    "INGEST_WORKER_MODE": "the local runner's processes or threads; on Azure each job is a Durable activity",
}
# dlt reads these from the environment (connection URLs, API keys, the SMTP login): secrets, so
# on Azure only Key Vault references (keyVaultReferenceSettings) or the vault itself.
SECRET_SETTING = re.compile(r"^(SOURCES|ALERTS|DESTINATION)__[A-Z0-9_]+$")
_READ = re.compile(r"""(?:environ(?:\.get)?\(|environ\[|getenv\()\s*["'](INGEST_[A-Z0-9_]+)["']""")


def settings_read_by_code() -> set[str]:
    """INGEST_* names in ingest/core/settings.py (the one module that reads settings), binding
    expressions such as %INGEST_SCHEDULE% in the Azure triggers, and any direct environment
    read elsewhere in ingest/ or function_app.py."""
    names = set(re.findall(r'"(INGEST_[A-Z0-9_]+)"', (REPO / "ingest" / "core" / "settings.py").read_text()))
    for path in [*(REPO / "ingest").rglob("*.py"), REPO / "function_app.py"]:
        text = path.read_text()
        names |= set(re.findall(r"%(INGEST_[A-Z0-9_]+)%", text))
        names |= set(_READ.findall(text))
    return names


def example_settings() -> set[str]:
    return set(json.loads((REPO / "local.settings.json.example").read_text())["Values"])


def differences(code: set[str], example: set[str], bicep: set[str]) -> list[str]:
    """One line per setting out of place, naming it and where it is missing or unexpected."""
    lines = []
    for name in sorted(code - bicep - set(LOCAL_ONLY)):
        lines.append(f"{name}: read by the code but not an app setting in {BICEP_PLACE}")
    for name in sorted(code - example):
        lines.append(f"{name}: read by the code but missing from {EXAMPLE_PLACE}")
    for name in sorted(bicep - code - set(AZURE_PLATFORM)):
        lines.append(f"{name}: an app setting in {BICEP_PLACE} that nothing reads"
                     " (remove it, or name its reader in AZURE_PLATFORM)")
    for name in sorted(example - code - set(LOCAL_PLATFORM)):
        if not SECRET_SETTING.match(name):
            lines.append(f"{name}: in {EXAMPLE_PLACE} but read by nothing")
    for name in sorted(bicep & set(LOCAL_ONLY)):
        lines.append(f"{name}: must not be an app setting on Azure: {LOCAL_ONLY[name]}")
    return lines


def test_the_names_the_check_compares_are_found():
    code = settings_read_by_code()
    assert len(code) >= 30
    assert {"INGEST_SCHEDULE", "INGEST_DESTINATION", "INGEST_CONFIG_URL", "INGEST_KEY_VAULT_URL"} <= code
    assert len(plain_app_settings()) >= 40


def test_app_settings_match_the_code_and_the_local_example_both_ways():
    problems = differences(settings_read_by_code(), example_settings(), set(plain_app_settings()))
    assert problems == [], "\n".join(problems)


def test_a_setting_out_of_place_is_named_with_where_it_is_missing():
    code = settings_read_by_code()
    example, bicep = example_settings(), set(plain_app_settings())
    today = set(differences(code, example, bicep))  # empty when the test above passes

    def added(lines: list[str]) -> list[str]:
        return [line for line in lines if line not in today]

    new = added(differences(code | {"INGEST_NEW_KNOB"}, example, bicep))
    assert new == [f"INGEST_NEW_KNOB: read by the code but not an app setting in {BICEP_PLACE}",
                   f"INGEST_NEW_KNOB: read by the code but missing from {EXAMPLE_PLACE}"]
    stale = added(differences(code, example, bicep | {"INGEST_OLD_KNOB"}))
    assert stale == [f"INGEST_OLD_KNOB: an app setting in {BICEP_PLACE} that nothing reads"
                     " (remove it, or name its reader in AZURE_PLATFORM)"]
    leaked = added(differences(code, example, bicep | {"INGEST_AZURE_STORAGE_CONNECTION_STRING"}))
    assert leaked and leaked[0].startswith("INGEST_AZURE_STORAGE_CONNECTION_STRING: must not be an app setting")


# Stand-ins for the module's parameters, to read the app settings as the app would on Azure.
SAMPLE = {
    "identityClientId": "00000000-0000-0000-0000-000000000001",
    "runtimeStorageName": "stfnabc", "storageSuffix": "core.windows.net",
    "lakeContainer": "lake", "lakeStorageName": "stlakeabc",
    "appInsightsConnectionString": "InstrumentationKey=00000000-0000-0000-0000-000000000002",
    "schedule": "0 0 2 * * *",
    "configUrl": "https://stlakeabc.blob.core.windows.net/config/ingestion_config.xlsx",
    "auditUrl": "https://stlakeabc.blob.core.windows.net/audit",
    "keyVaultUri": "https://kv-ingest-abc.vault.azure.net/", "keyVaultSecretPrefix": "prod",
    "environmentLabel": "prod", "smtpHost": "smtp.example.com",
    "alertFrom": "ingest@example.com", "alertTo": "data-team@example.com",
    "httpAuth": "entra", "httpAllowedPrincipals": "0b5c2f1e-3c1a-4c55-9d7e-7a3b2e1f0a01",
    "lineageTransport": "http", "lineageUrl": "https://marquez.example.com",
    "lineageEndpoint": "api/v1/lineage", "lineageApiKeyHeader": "Authorization",
}


def resolved_app_settings() -> dict[str, str]:
    declared = set(parse(FUNCTION_APP)["parameters"]) | set(parse(FUNCTION_APP)["variables"])
    resolved = {}
    for name, value in plain_app_settings().items():
        assert isinstance(value, str), f"{name}: an expression the check cannot read: {value}"
        if value in declared:
            assert value in SAMPLE, f"{name} = {value}: add a sample value for {value} to SAMPLE"
            value = SAMPLE[value]
        for ref in re.findall(r"\$\{(\w+)\}", value):
            assert ref in SAMPLE, f"{name}: add a sample value for {ref} to SAMPLE"
            value = value.replace("${" + ref + "}", SAMPLE[ref])
        resolved[name] = value
    return resolved


def test_the_bicep_app_settings_are_accepted_by_the_app():
    env = resolved_app_settings()
    settings = Settings.from_env(env)
    assert settings.destination == "abfss://lake@stlakeabc.dfs.core.windows.net"
    assert settings.azure_storage_connection_string is None  # managed identity for blobs and the lake
    assert settings.config_url == SAMPLE["configUrl"] and settings.audit_url == SAMPLE["auditUrl"]
    assert settings.key_vault_url == "https://kv-ingest-abc.vault.azure.net"
    assert settings.smtp_host == "smtp.example.com" and settings.alert_to == ("data-team@example.com",)
    # the app folder is read-only on Flex Consumption: dlt's working folders, audit and logs in /tmp
    for folder in (settings.pipelines_dir, settings.audit_dir, settings.log_dir):
        assert str(folder).startswith("/tmp/"), folder
    assert settings.http_auth == "entra" and settings.http_allowed_principals == (SAMPLE["httpAllowedPrincipals"],)
    assert (settings.lineage_transport, settings.lineage_url) == ("http", "https://marquez.example.com")
    assert settings.lineage_namespace == "ingest-prod"  # one namespace per environment
    destination = make_destination(settings)
    assert destination.config_params["credentials"] == {"azure_storage_account_name": "stlakeabc"}


def test_host_storage_is_identity_based_with_blob_queue_and_table():
    env = resolved_app_settings()
    assert env["AzureWebJobsStorage__credential"] == "managedidentity"
    assert env["AzureWebJobsStorage__clientId"] == env["AZURE_CLIENT_ID"] == SAMPLE["identityClientId"]
    for service in ("blob", "queue", "table"):
        assert env[f"AzureWebJobsStorage__{service}ServiceUri"] == f"https://stfnabc.{service}.core.windows.net"
    assert "AzureWebJobsStorage" not in env  # no connection string, no account key
    assert env["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == \
        f"ClientId={SAMPLE['identityClientId']};Authorization=AAD"


def test_flex_consumption_runs_python_311_without_functions_worker_runtime():
    config = parse(FUNCTION_APP)["resources"]["app"]["config"]["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    assert "FUNCTIONS_WORKER_RUNTIME" not in plain_app_settings()  # Flex Consumption rejects it
    assert json.loads((REPO / "local.settings.json.example").read_text())["Values"]["FUNCTIONS_WORKER_RUNTIME"] == "python"


def test_secrets_are_app_settings_only_as_key_vault_references():
    secret_looking = re.compile(r"AccountKey=|SharedAccessSignature|password|://[^/@\s]+:[^/@\s]+@", re.I)
    for name, value in plain_app_settings().items():
        assert not SECRET_SETTING.match(name), f"{name} is a secret: list it in keyVaultReferenceSettings"
        assert not secret_looking.search(value), f"{name} looks like a secret in clear"
    item = reference_setting()["config"]
    assert item["name"] == "settingName"
    assert item["value"].startswith("@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${secretPrefix}")


def bicep_secret_name(prefix: str, setting: str) -> str:
    """What the Bicep writes after `secrets/`: the prefix with `--`, then
    toLower(replace(replace(setting, '__', '--'), '_', '-'))."""
    return (f"{prefix}--" if prefix else "") + setting.replace("__", "--").replace("_", "-").lower()


def test_key_vault_references_name_the_secret_the_apps_provider_reads():
    value = reference_setting()["config"]["value"]
    assert "${toLower(replace(replace(settingName, '__', '--'), '_', '-'))}" in value
    assert "${keyVaultSecretPrefix}--" in json.dumps(parse(FUNCTION_APP)["variables"]["secretPrefix"])
    for setting in ("SOURCES__SALES_DB__CREDENTIALS", "SOURCES__CRM_API__API_KEY", "ALERTS__SMTP__PASSWORD"):
        dlt_key = setting.lower().replace("__", ".")
        for prefix in ("", "prod"):
            assert bicep_secret_name(prefix, setting) == secret_name_for_key(prefix, dlt_key)


def test_the_timers_default_looks_for_due_jobs_at_least_as_often_as_the_finest_schedule():
    """The timer (INGEST_SCHEDULE, the Bicep `schedule` default, the local example) must fire at
    least hourly, the finest `schedule` cell docs/schedules.md shows: at `0 0 2 * * *` an hourly job
    loaded once a day (issue 27)."""
    from datetime import datetime, timezone

    from croniter import croniter

    bicep = (REPO / "infra" / "main.bicep").read_text()
    defaults = [re.search(r"param schedule string = '([^']+)'", bicep).group(1),
                json.loads((REPO / "local.settings.json.example").read_text())["Values"]["INGEST_SCHEDULE"]]
    assert "`hourly`" in docs_page("schedules")  # the finest schedule the docs offer
    for ncrontab in defaults:
        seconds, minute_and_rest = ncrontab.split(" ", 1)
        assert seconds == "0", ncrontab
        fires = croniter(minute_and_rest, datetime(2026, 1, 1, tzinfo=timezone.utc))
        times = [fires.get_next(datetime) for _ in range(200)]
        longest = max((b - a).total_seconds() for a, b in zip(times, times[1:]))
        assert longest <= 3600, f"{ncrontab} leaves {longest / 3600:.0f} h between runs"
