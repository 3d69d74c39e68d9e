"""Entra ID for the HTTP routes in the Bicep (httpAuth = entra): App Service Authentication
(`authsettingsV2`) on the Function App only with that parameter, requiring a login (401 without),
admitting the object ids in INGEST_HTTP_ALLOWED_PRINCIPALS (ADF's managed identity and the
Airflow service principal); the ADF linked service then also authenticates with its managed
identity. Read with pycep-parser (tests/bicep.py): no Bicep compiler, no deployment here."""

from __future__ import annotations

import json

from tests.bicep import FUNCTION_APP, INFRA, parse, plain_app_settings, resources

MAIN = INFRA / "main.bicep"
FACTORY = INFRA / "modules" / "data-factory.bicep"
ENTRA = {"operator": {"type": "equals", "operands": {"operand_1": "httpAuth", "operand_2": "entra"}}}


def test_http_auth_is_a_parameter_defaulting_to_the_function_key():
    for path in (MAIN, FUNCTION_APP, FACTORY):
        parameter = parse(path)["parameters"]["httpAuth"]
        allowed = next(d["argument"] for d in parameter["decorators"] if d["type"] == "allowed")
        assert allowed == ["functionKey", "entra"], path.name
    assert parse(MAIN)["parameters"]["httpAuth"]["default"] == "functionKey"
    given = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert given["httpAuth"]["value"] == "${INGEST_HTTP_AUTH=functionKey}"


def test_easy_auth_with_entra_id_is_deployed_only_with_entra_and_requires_a_login():
    auth = resources(FUNCTION_APP)["auth"]
    assert auth["type"] == "Microsoft.Web/sites/config" and auth["config"]["condition"] == ENTRA
    body = auth["config"]["config"]
    assert body["name"] == "authsettingsV2" and body["parent"] == "app"
    properties = body["properties"]
    assert properties["platform"] == {"enabled": True}
    assert properties["globalValidation"] == {"requireAuthentication": True, "unauthenticatedClientAction": "Return401"}
    entra = properties["identityProviders"]["azureActiveDirectory"]
    assert entra["enabled"] is True and entra["registration"]["clientId"] == "entraApiClientId"
    assert entra["validation"]["allowedAudiences"] == ["api://${entraApiClientId}", "entraApiClientId"]
    assert entra["validation"]["defaultAuthorizationPolicy"] == {"allowedPrincipals": {"identities": "allowedIdentities"}}


def test_the_app_and_easy_auth_read_the_same_allowed_list():
    settings = plain_app_settings()
    assert settings["INGEST_HTTP_AUTH"] == "httpAuth"
    assert settings["INGEST_HTTP_ALLOWED_PRINCIPALS"] == "httpAllowedPrincipals"
    split = json.dumps(parse(FUNCTION_APP)["variables"]["allowedIdentities"])
    assert '"httpAllowedPrincipals"' in split and '"split"' in split


def test_main_allows_adfs_identity_and_the_airflow_principal_only_with_entra():
    allowed = parse(MAIN)["variables"]["httpAllowedPrincipals"]["value"]["operator"]["operands"]
    assert allowed["condition"] == ENTRA and allowed["false_value"] == ""
    ids = allowed["true_value"]["function"]["parameters"]["input_array"]["function"]["parameters"]["input_array"]
    adf, airflow = ids
    assert adf == "factoryPrincipalId" and airflow == "airflowPrincipalId"
    # the new factory's identity (modules/factory.bicep, created before the app), or the existing one's
    chosen = parse(MAIN)["variables"]["factoryPrincipalId"]["value"]["operator"]["operands"]
    assert chosen["condition"] == "useExistingFactory"
    assert chosen["true_value"]["operator"]["operands"]["operand_1"] == "existingFactory"
    assert chosen["false_value"]["operator"]["operands"]["operand_1"] == "factory"
    modules = parse(MAIN)["modules"]
    assert modules["functionApp"]["config"]["params"]["httpAllowedPrincipals"] == "httpAllowedPrincipals"
    assert modules["dataFactory"]["config"]["params"]["httpAuth"] == "httpAuth"


def test_the_adf_linked_service_adds_its_managed_identity_token_with_entra():
    entra = parse(FACTORY)["variables"]["entraLink"]["value"]["operator"]["operands"]
    assert entra["condition"] == ENTRA
    assert entra["true_value"] == {"authentication": "MSI", "resourceId": "api://${entraApiClientId}"}
    assert entra["false_value"] == {}
