"""infra/ is well formed without a Bicep compiler: every .bicep file parses (pycep-parser),
local module paths exist, azd's parameters match main.bicep, role assignments are named by
guid(), and no secret is a parameter value or an output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.bicep import INFRA, REPO, bicep_files, parse, resources

FILES = bicep_files()


def test_infra_has_the_bicep_of_every_resource():
    names = {p.relative_to(INFRA).as_posix() for p in FILES}
    assert {"main.bicep", "modules/function-app.bicep", "modules/data-factory.bicep",
            "modules/key-vault.bicep", "modules/storage-lake.bicep", "modules/storage-runtime.bicep"} <= names
    types = {r["type"] for path in FILES for r in resources(path).values()}
    assert {"Microsoft.Web/sites", "Microsoft.Web/serverfarms", "Microsoft.Storage/storageAccounts",
            "Microsoft.KeyVault/vaults", "Microsoft.Insights/components", "Microsoft.OperationalInsights/workspaces",
            "Microsoft.ManagedIdentity/userAssignedIdentities", "Microsoft.Authorization/roleAssignments",
            "Microsoft.DataFactory/factories", "Microsoft.DataFactory/factories/linkedservices",
            "Microsoft.DataFactory/factories/pipelines"} <= types


@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(INFRA).as_posix() for p in FILES])
def test_bicep_file_parses(path: Path):
    document = parse(path)
    assert document["globals"]["scope"]["value"] in ("resourceGroup", "subscription")
    assert document.get("resources") or document.get("modules") or document.get("outputs")


@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(INFRA).as_posix() for p in FILES])
def test_local_module_references_exist(path: Path):
    for name, module in parse(path).get("modules", {}).items():
        if module["type"] == "local":
            target = (path.parent / module["detail"]["path"]).resolve()
            assert target.is_file(), f"{path.name}: module {name} -> {module['detail']['path']} does not exist"


def test_azd_parameters_match_main_bicep():
    declared = parse(INFRA / "main.bicep")["parameters"]
    given = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert set(given) - set(declared) == set(), "parameters main.bicep does not declare"
    required = {n for n, p in declared.items() if "default" not in p}
    assert required - set(given) == set(), "main.bicep parameters without a default nor a value"


def test_parameter_files_hold_placeholders_not_secrets():
    secret_looking = re.compile(r"AccountKey=|SharedAccessSignature|password|secret=|sig=|://[^/@\s]+:[^/@\s]+@", re.I)
    for path in INFRA.rglob("*.parameters.json"):
        for name, entry in json.loads(path.read_text())["parameters"].items():
            value = json.dumps(entry.get("value"))
            assert "reference" not in entry or "keyVault" in entry["reference"], name
            assert not secret_looking.search(value), f"{path.name}: {name} looks like a secret"


def _walk(node):
    yield node
    if isinstance(node, dict):
        for child in node.values():
            yield from _walk(child)
    elif isinstance(node, list):
        for child in node:
            yield from _walk(child)


@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(INFRA).as_posix() for p in FILES])
def test_no_output_carries_a_secret(path: Path):
    document = parse(path)
    secure = {n for n, p in document.get("parameters", {}).items()
              if any(d["type"] == "secure" for d in p["decorators"])}
    for name, output in document.get("outputs", {}).items():
        for node in _walk(output["value"]):
            assert not (isinstance(node, dict) and node.get("type") == "list_func"), f"{path.name}: output {name} calls list*()"
            assert not (isinstance(node, str) and node in secure), f"{path.name}: output {name} returns a @secure parameter"
        assert not re.search(r"password|accountkey|connectionstring|token", name, re.I) or \
            name in {"appInsightsConnectionString"}, f"{path.name}: output {name}"


def test_role_assignments_are_named_by_guid_of_scope_principal_and_role():
    found = 0
    for path in FILES:
        for name, resource in resources(path).items():
            if resource["type"] != "Microsoft.Authorization/roleAssignments":
                continue
            found += 1
            config = resource["config"]
            config = config.get("config", config)  # a for-loop wraps the body
            function = config["name"]["function"]
            assert function["type"] == "guid", f"{path.name}: {name} is not named by guid()"
            assert len(function["parameters"]) == 3, f"{path.name}: {name}: guid(scope, principal, role)"
    assert found >= 3


ROLE_IDS = {
    "storage blob data owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "storage blob data contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "storage queue data contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "storage table data contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "key vault secrets user": "4633458b-17de-408a-b874-0445c86b69e6",
}


def test_the_app_identity_gets_the_roles_durable_the_lake_and_key_vault_need():
    document = parse(INFRA / "modules" / "app-roles.bicep")
    roles = document["variables"]["roles"]["value"]
    granted: dict[str, set[str]] = {}
    for module in document["modules"].values():
        params = module["config"]["params"]
        target = next(v for k, v in params.items() if k.endswith("Name"))
        ids = {roles[r["operator"]["operands"]["operand_2"]] for r in params["roleIds"]}
        granted[target] = ids
    assert granted["runtimeStorageName"] == {ROLE_IDS["storage blob data owner"], ROLE_IDS["storage queue data contributor"],
                                             ROLE_IDS["storage table data contributor"]}
    assert granted["lakeStorageName"] == {ROLE_IDS["storage blob data contributor"]}
    assert granted["keyVaultName"] == {ROLE_IDS["key vault secrets user"]}


def test_key_vault_is_in_rbac_mode_and_storage_takes_no_shared_keys():
    """In both network variants (modules/accounts/*-public.bicep and *-private.bicep)."""
    accounts = INFRA / "modules" / "accounts"
    for variant in ("public", "private"):
        vault = resources(accounts / f"vault-{variant}.bicep")["vault"]["config"]["properties"]
        assert vault["enableRbacAuthorization"] is True and vault["enablePurgeProtection"] is True, variant
        lake = resources(accounts / f"lake-{variant}.bicep")["account"]["config"]["properties"]
        assert lake["isHnsEnabled"] is True, variant
        for name in ("lake", "runtime"):
            account = resources(accounts / f"{name}-{variant}.bicep")["account"]["config"]["properties"]
            assert account["allowSharedKeyAccess"] is False and account["networkAcls"]["defaultAction"] == "Deny", name


def test_azure_yaml_deploys_this_folder_to_the_tagged_function_app():
    azd = yaml.safe_load((REPO / "azure.yaml").read_text())
    assert azd["infra"]["provider"] == "bicep"
    assert (REPO / azd["infra"]["path"] / f"{azd['infra']['module']}.bicep").is_file()
    (service_name, service), = azd["services"].items()
    assert (service["host"], service["language"], service["project"]) == ("function", "python", ".")
    app = resources(INFRA / "modules" / "function-app.bicep")["app"]["config"]
    tags = app["tags"]["function"]["parameters"]
    assert {"'azd-service-name'": service_name} in tags.values()
