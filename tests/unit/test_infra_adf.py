"""The data factory deploys infra/adf/ingest_pipeline.json itself (loadJsonContent, not a
copy), with the linked services the pipeline names, the function key from Key Vault. The factory
and its identity are created first (factory.bicep), the rest once the app exists."""

from __future__ import annotations

import json

from tests.bicep import INFRA, parse, resources

FACTORY = INFRA / "modules" / "data-factory.bicep"
FACTORY_IDENTITY = INFRA / "modules" / "factory.bicep"
PIPELINE = INFRA / "adf" / "ingest_pipeline.json"


def linked_service_references(node) -> set[str]:
    if isinstance(node, dict):
        found = {node["referenceName"]} if node.get("type") == "LinkedServiceReference" else set()
        return found.union(*(linked_service_references(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(linked_service_references(v) for v in node))
    return set()


def test_the_pipeline_resource_is_the_json_file_loaded_at_build_time():
    load = parse(FACTORY)["variables"]["pipeline"]["value"]["function"]
    assert load["type"] == "load_json_content"
    assert (FACTORY.parent / load["parameters"]["file_path"]).resolve() == PIPELINE.resolve()
    config = resources(FACTORY)["ingestPipeline"]["config"]
    assert config["name"]["operator"]["operands"] == {"operand_1": "pipeline", "operand_2": "name"}
    assert config["properties"]["operator"]["operands"] == {"operand_1": "pipeline", "operand_2": "properties"}


def test_every_linked_service_the_pipeline_names_is_deployed():
    deployed = {r["config"]["name"]: r["config"]["properties"] for r in resources(FACTORY).values()
                if r["type"] == "Microsoft.DataFactory/factories/linkedservices"}
    wanted = linked_service_references(json.loads(PIPELINE.read_text()))
    assert wanted == {"ls_ingest_function"}
    assert wanted <= set(deployed)
    function = deployed["ls_ingest_function"]
    assert function["type"] == "AzureFunction"
    # union(functionKeyLink, entraLink): the key always, Entra ID's MSI token with httpAuth = entra
    union = function["typeProperties"]["function"]
    assert union["type"] == "union" and list(union["parameters"].values()) == ["functionKeyLink", "entraLink"]
    key = parse(FACTORY)["variables"]["functionKeyLink"]["value"]["functionKey"]
    assert key["type"] == "AzureKeyVaultSecret" and key["store"]["type"] == "LinkedServiceReference"
    assert deployed["ls_key_vault"]["type"] == "AzureKeyVault"


def test_the_factory_has_a_managed_identity_that_may_read_the_function_key():
    factory = resources(FACTORY_IDENTITY)["factory"]["config"]
    assert factory["identity"] == {"type": "SystemAssigned"}
    assert resources(FACTORY)["factory"]["existing"] is True
    roles = parse(FACTORY)["modules"]["factoryRoles"]["config"]["params"]
    assert roles["roleIds"] == ["4633458b-17de-408a-b874-0445c86b69e6"]  # Key Vault Secrets User


def test_the_function_key_reaches_key_vault_without_a_parameter_or_output():
    path = INFRA / "modules" / "function-key-secret.bicep"
    secret = resources(path)["secret"]["config"]["properties"]
    listed = secret["value"]["operator"]["operands"]["operand_1"]["function"]
    assert listed["type"] == "list_func" and listed["parameters"]["func_name"] == "listKeys"
    assert secret["attributes"]["exp"]  # expires; every deployment writes a fresh copy
    assert list(parse(path)["outputs"]) == ["secretName"]
