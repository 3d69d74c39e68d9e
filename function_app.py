"""Azure Functions entry point: the Durable app and the ingest blueprint, nothing else."""

import os

import azure.durable_functions as df
import azure.functions as func

from ingest.lake.dlt_defaults import apply_dlt_defaults  # noqa: E402

apply_dlt_defaults()  # before anything imports dlt
os.environ.setdefault("INGEST_PIPELINES_DIR", os.path.join(os.environ.get("TMPDIR", "/tmp"), "ingest-pipelines"))

from ingest.drivers.azure.blueprint import bp  # noqa: E402
from ingest.core.keyvault.registration import register_from_environment  # noqa: E402

register_from_environment()  # credentials from Key Vault when INGEST_KEY_VAULT_URL is set

from ingest.alerts.telemetry import configure_from_environment  # noqa: E402

configure_from_environment()  # App Insights with custom dimensions, when azure-monitor-opentelemetry is installed

from ingest.core.logging_setup import install_secret_masking, quiet_library_loggers  # noqa: E402

install_secret_masking()
quiet_library_loggers()  # the Azure SDK's per-request INFO lines would go to Application Insights
app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(bp)
