"""The deployment variants of infra/main.bicep (issue 27): networkIsolation public (default:
public endpoints behind the firewalls) or private (private endpoints and DNS zones, public
network access off), and existingDataFactoryName (the team's factory gets only the linked
services, the pipeline and the role). checkov scans each variant as deployed: the files main
reaches under the variant's parameters, with the module conditions evaluated here. No Bicep
compiler and no Azure here: parse trees (pycep-parser) and checkov only."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.bicep import INFRA, parse, resources
from tests.checkov_scan import failures, scan

MAIN = INFRA / "main.bicep"
ACCOUNTS = INFRA / "modules" / "accounts"
TWINS = ("lake", "runtime", "vault")
NETWORK_KEYS = {"publicNetworkAccess", "networkAcls"}
FIREWALL_PARAMS = {"subnetId", "allowedIps"}

VARIANTS = {
    "public": {},
    "private": {"networkIsolation": "private"},
    "existing-factory": {"existingDataFactoryName": "adf-shared", "existingDataFactoryResourceGroup": "rg-data"},
    "private-existing-factory": {"networkIsolation": "private", "existingDataFactoryName": "adf-shared"},
}


# -- evaluating main.bicep's module conditions for a variant ----------------------------------
def _value(node, document: dict, given: dict):
    """The value of a condition expression of main.bicep: parameters (given, else default),
    variables, ==, !, empty(). Anything else is an error, so a new kind of condition cannot be
    evaluated wrongly in silence."""
    if isinstance(node, bool):
        return node
    if isinstance(node, str):
        if node in given:
            return given[node]
        if node in document["parameters"]:
            return document["parameters"][node].get("default", "")
        if node in document["variables"]:
            return _value(document["variables"][node]["value"], document, given)
        if node.startswith("'") and node.endswith("'"):
            return node[1:-1]
        return node  # a literal string pycep unquoted
    if "operator" in node:
        kind, operands = node["operator"]["type"], node["operator"]["operands"]
        if kind == "not":
            return not _value(operands["bool_value"], document, given)
        if kind == "equals":
            return _value(operands["operand_1"], document, given) == _value(operands["operand_2"], document, given)
    if "function" in node and node["function"]["type"] == "empty":
        return not _value(node["function"]["parameters"]["item_to_test"], document, given)
    raise AssertionError(f"a condition this test cannot evaluate: {json.dumps(node)[:300]}")


def deployed_files(given: dict, path: Path = MAIN) -> set[Path]:
    """main.bicep and every local module it deploys under these parameter values, transitively
    (conditions are evaluated in main.bicep; the modules below it deploy unconditionally)."""
    document = parse(path)
    found = {path}
    for name, module in document.get("modules", {}).items():
        config = module["config"]
        condition = config.get("condition")
        if condition is not None:
            assert path == MAIN, f"{path.name}: module {name} has a condition; evaluate it here too"
            if not _value(condition, document, given):
                continue
        target = (path.parent / module["detail"]["path"]).resolve()
        found |= deployed_files(given, target)
    return found


def variant_folder(tmp_path: Path, given: dict) -> Path:
    """A copy of infra/ holding only what the variant deploys (and the JSON the Bicep loads)."""
    folder = tmp_path / "infra"
    for path in deployed_files(given):
        target = folder / path.relative_to(INFRA)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    shutil.copytree(INFRA / "adf", folder / "adf")
    return folder


def relative(paths: set[Path]) -> set[str]:
    return {p.relative_to(INFRA).as_posix() for p in paths}


# -- the parameters -----------------------------------------------------------------------------
def test_network_isolation_and_the_existing_factory_are_parameters_with_safe_defaults():
    declared = parse(MAIN)["parameters"]
    allowed = next(d["argument"] for d in declared["networkIsolation"]["decorators"] if d["type"] == "allowed")
    assert allowed == ["public", "private"] and declared["networkIsolation"]["default"] == "public"
    assert declared["existingDataFactoryName"]["default"] == ""
    assert declared["existingDataFactoryResourceGroup"]["default"] == ""
    given = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert given["networkIsolation"]["value"] == "${NETWORK_ISOLATION=public}"
    assert given["existingDataFactoryName"]["value"] == "${EXISTING_DATA_FACTORY_NAME=}"
    assert given["existingDataFactoryResourceGroup"]["value"] == "${EXISTING_DATA_FACTORY_RESOURCE_GROUP=}"


def test_azds_schedule_default_is_the_bicep_default():
    """main.parameters.json's fallback wins over the Bicep default under azd: it said daily."""
    given = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]["schedule"]["value"]
    assert given == "${INGEST_SCHEDULE=" + parse(MAIN)["parameters"]["schedule"]["default"] + "}"


# -- what each variant deploys ----------------------------------------------------------------
def test_each_variant_deploys_one_of_each_twin_and_private_link_only_when_private():
    public, private = deployed_files(VARIANTS["public"]), deployed_files(VARIANTS["private"])
    for twin in TWINS:
        assert ACCOUNTS / f"{twin}-public.bicep" in public and ACCOUNTS / f"{twin}-public.bicep" not in private
        assert ACCOUNTS / f"{twin}-private.bicep" in private and ACCOUNTS / f"{twin}-private.bicep" not in public
    assert relative(private - public) == {f"modules/accounts/{t}-private.bicep" for t in TWINS} | {"modules/private-link.bicep"}


def test_the_existing_factory_variant_creates_no_factory():
    new, existing = deployed_files(VARIANTS["public"]), deployed_files(VARIANTS["existing-factory"])
    assert relative(new - existing) == {"modules/factory.bicep"}
    assert relative(existing - new) == {"modules/factory-existing.bicep"}
    read = resources(INFRA / "modules" / "factory-existing.bicep")["factory"]
    assert read["existing"] is True and read["type"] == "Microsoft.DataFactory/factories"
    # data-factory.bicep adds linked services, the pipeline and the secret's role, never a factory
    added = {r["type"] for r in resources(INFRA / "modules" / "data-factory.bicep").values() if not r.get("existing")}
    assert added == {"Microsoft.DataFactory/factories/linkedservices", "Microsoft.DataFactory/factories/pipelines"}
    assert set(parse(INFRA / "modules" / "data-factory.bicep")["modules"]) == {"factoryRoles"}


def test_the_factory_modules_go_to_the_factorys_resource_group_and_the_role_to_the_vaults():
    main = parse(MAIN)
    for name in ("existingFactory", "dataFactory"):
        config = main["modules"][name]["config"]
        config = config.get("config", config)
        assert config["scope"]["function"]["parameters"]["resource_group_name"] == "factoryResourceGroup", name
    chosen = main["variables"]["factoryResourceGroup"]["value"]["operator"]["operands"]
    assert chosen["true_value"]["operator"]["operands"] == {"operand_1": "rg", "operand_2": "name"}
    assert chosen["false_value"] == "existingDataFactoryResourceGroup"
    params = main["modules"]["dataFactory"]["config"]["params"]
    assert params["name"] == "factoryName" and params["keyVaultResourceGroup"]["operator"]["operands"]["operand_1"] == "rg"
    roles = parse(INFRA / "modules" / "data-factory.bicep")["modules"]["factoryRoles"]["config"]
    assert roles["scope"]["function"]["parameters"]["resource_group_name"] == "keyVaultResourceGroup"


# -- the twins: the same account but for its network ------------------------------------------
@pytest.mark.parametrize("twin", TWINS)
def test_the_twins_differ_only_in_their_network_settings(twin):
    public, private = parse(ACCOUNTS / f"{twin}-public.bicep"), parse(ACCOUNTS / f"{twin}-private.bicep")
    assert set(public["parameters"]) - set(private["parameters"]) == FIREWALL_PARAMS
    assert set(private["parameters"]) <= set(public["parameters"])
    (name, a), = public["resources"].items()
    b = private["resources"][name]
    a, b = a["config"], b["config"]
    assert {k: v for k, v in a.items() if k != "properties"} == {k: v for k, v in b.items() if k != "properties"}
    strip = lambda props: {k: v for k, v in props.items() if k not in NETWORK_KEYS}
    assert strip(a["properties"]) == strip(b["properties"])
    assert a["properties"]["publicNetworkAccess"] == "Enabled" and b["properties"]["publicNetworkAccess"] == "Disabled"
    assert b["properties"]["networkAcls"]["defaultAction"] == "Deny"
    assert b["properties"]["networkAcls"]["ipRules"] == [] and b["properties"]["networkAcls"]["virtualNetworkRules"] == []


def test_private_endpoints_cover_the_task_hub_the_lake_and_the_vault_with_their_dns_zones():
    document = parse(INFRA / "modules" / "private-link.bicep")
    endpoints = document["variables"]["endpoints"]["value"]
    groups = sorted((e["target"]["function"]["parameters"]["resource_name_1"], e["group"]) for e in endpoints)
    assert groups == sorted([("runtimeStorageName", "blob"), ("runtimeStorageName", "queue"),
                             ("runtimeStorageName", "table"), ("lakeStorageName", "blob"),
                             ("lakeStorageName", "dfs"), ("keyVaultName", "vault")])
    zones = json.dumps(document["variables"]["zoneNames"]["value"])
    for service in ("blob", "dfs", "queue", "table"):
        assert f"privatelink.{service}." in zones
    assert document["variables"]["vaultZone"]["value"] == "privatelink.vaultcore.azure.net"
    found = resources(INFRA / "modules" / "private-link.bicep")
    link = found["zoneLink"]["config"]["config"]["properties"]
    assert link == {"registrationEnabled": False, "virtualNetwork": {"id": "vnetId"}}
    assert found["endpoint"]["config"]["config"]["properties"]["subnet"] == {"id": "subnetId"}
    group = found["zoneGroup"]["config"]["config"]["properties"]["privateDnsZoneConfigs"][0]
    zone_id = group["properties"]["privateDnsZoneId"]["function"]["parameters"]
    assert zone_id["resource_type"] == "Microsoft.Network/privateDnsZones"
    assert zone_id["resource_name_1"]["operator"]["operands"] == {"operand_1": "e", "operand_2": "zone"}  # its own zone
    zone_of = {e["group"]: e["zone"] for e in endpoints}
    assert zone_of["vault"] == "vaultZone" and all(service in json.dumps(zone_of[service])
                                                   for service in ("blob", "dfs", "queue", "table"))


def test_the_app_starts_after_its_private_endpoints_and_the_vnet_has_their_subnet():
    main = parse(MAIN)
    depends = main["modules"]["functionApp"]["config"]["dependsOn"]
    assert "privateLink" in depends and "appRoles" in depends
    subnets = resources(INFRA / "modules" / "network.bicep")["vnet"]["config"]["properties"]["subnets"]
    assert [s["name"] for s in subnets] == ["app", "endpoints"]
    assert "delegations" not in subnets[1]["properties"]


# -- checkov over each variant ----------------------------------------------------------------
@pytest.fixture(scope="module")
def variant_scans(tmp_path_factory) -> dict[str, dict]:
    return {name: scan(variant_folder(tmp_path_factory.mktemp(name), given))["bicep"]
            for name, given in VARIANTS.items()}


def _skipped(report: dict) -> set[tuple[str, str]]:
    return {(c["check_id"], c["file_path"].lstrip("/")) for c in report["results"]["skipped_checks"]}


@pytest.mark.parametrize("variant", VARIANTS)
def test_checkov_finds_nothing_unjustified_in_the_variant(variant_scans, variant):
    report = variant_scans[variant]
    assert report["summary"]["parsing_errors"] == 0, report["results"].get("parsing_errors")
    assert failures(report) == []
    assert report["summary"]["passed"] >= 30
    for check in report["results"]["skipped_checks"]:
        reason = check["check_result"].get("suppress_comment") or ""
        assert len(reason) >= 40, f"{variant}: {check['check_id']} in {check['file_path']} without a reason"


def test_the_public_endpoint_skips_are_gone_in_the_private_variant(variant_scans):
    public, private = _skipped(variant_scans["public"]), _skipped(variant_scans["private"])
    public_endpoint = {("CKV_AZURE_59", "modules/accounts/lake-public.bicep"),
                       ("CKV_AZURE_59", "modules/accounts/runtime-public.bicep")}
    assert public_endpoint <= public
    assert not any(check == "CKV_AZURE_59" for check, _ in private)
    assert public - private == public_endpoint | {("CKV_AZURE_206", "modules/accounts/runtime-public.bicep")}
    assert private - public == {("CKV_AZURE_206", "modules/accounts/runtime-private.bicep")}  # the same LRS choice
    passed = {(c["check_id"], c["file_path"].lstrip("/")) for c in variant_scans["private"]["results"]["passed_checks"]}
    for twin in ("lake", "runtime"):
        assert ("CKV_AZURE_59", f"modules/accounts/{twin}-private.bicep") in passed
    assert ("CKV_AZURE_189", "modules/accounts/vault-private.bicep") in passed


def test_the_existing_factory_variant_scans_no_factory_of_its_own(variant_scans):
    for variant in ("existing-factory", "private-existing-factory"):
        files = {c["file_path"].lstrip("/") for kind in ("passed_checks", "skipped_checks")
                 for c in variant_scans[variant]["results"][kind]}
        assert "modules/factory.bicep" not in files
    new = {c["file_path"].lstrip("/") for c in variant_scans["public"]["results"]["skipped_checks"]}
    assert "modules/factory.bicep" in new  # its two justified skips, scanned when it is deployed
