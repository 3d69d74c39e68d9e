"""Roles are scoped to the container or secret they need (issue 21, finding 7; the trust model of
DESIGN.md): ADF may read the one function-key secret, not the whole vault; an operator may write
the `config` container (workbook) and read the `audit` container, not the whole lake account; the
app's identity has its lake roles per container. The Bicep is read with pycep-parser
(tests/bicep.py): each module call of a `roles/*.bicep` module is followed to the role
assignment inside it and to the type of the resource that assignment is scoped to."""

from __future__ import annotations

from pathlib import Path

from tests.bicep import INFRA, parse, resources

MODULES = INFRA / "modules"
ASSIGNMENT = "Microsoft.Authorization/roleAssignments"
CONTAINER = "Microsoft.Storage/storageAccounts/blobServices/containers"
ACCOUNT = "Microsoft.Storage/storageAccounts"
SECRET = "Microsoft.KeyVault/vaults/secrets"
VAULT = "Microsoft.KeyVault/vaults"

BLOB_DATA_OWNER = "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"
BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"


def scope_type(roles_module: Path) -> str:
    """The resource type the role assignment of a roles/*.bicep module is scoped to."""
    found = resources(roles_module)
    (assignment,) = [r for r in found.values() if r["type"] == ASSIGNMENT]
    body = assignment["config"].get("config", assignment["config"])  # a for-loop wraps the body
    return found[body["scope"]]["type"]


def role_calls(path: Path) -> list[dict]:
    """Every module call in `path` of a roles/*.bicep module: its scope type, parameters and
    role ids (resolved through a `roles` variable where the file names them)."""
    document = parse(path)
    names = document.get("variables", {}).get("roles", {}).get("value", {})
    calls = []
    for module in document.get("modules", {}).values():
        target = (path.parent / module["detail"]["path"]).resolve()
        if target.parent.name != "roles":
            continue
        params = module["config"]["params"]
        ids = [names[r["operator"]["operands"]["operand_2"]] if isinstance(r, dict) else r
               for r in params["roleIds"]]
        calls.append({"scope": scope_type(target), "params": params, "roles": ids, "module": target.name})
    return calls


def test_each_roles_module_is_scoped_to_the_resource_it_names():
    assert scope_type(MODULES / "roles" / "storage.bicep") == ACCOUNT
    assert scope_type(MODULES / "roles" / "storage-container.bicep") == CONTAINER
    assert scope_type(MODULES / "roles" / "key-vault-secret.bicep") == SECRET
    container = resources(MODULES / "roles" / "storage-container.bicep")
    assert {r["type"] for r in container.values() if r["existing"]} == {ACCOUNT, CONTAINER,
                                                                         "Microsoft.Storage/storageAccounts/blobServices"}


def test_adf_may_read_only_the_function_key_secret_not_the_vault():
    calls = role_calls(MODULES / "data-factory.bicep")
    assert calls, "the factory needs a role to read the function key"
    for call in calls:
        assert call["scope"] == SECRET, f"ADF's role on {call['scope']}: scope it to the secret it reads"
        assert call["roles"] == [SECRETS_USER]
        assert call["params"]["secretName"] == "functionKeySecretName"


def test_operators_write_the_config_container_and_read_the_audit_container_only():
    calls = role_calls(MODULES / "operator-roles.bicep")
    storage = [c for c in calls if c["scope"] in (ACCOUNT, CONTAINER)]
    assert all(c["scope"] == CONTAINER for c in storage), "an operator blob role on the whole lake account"
    granted = {c["params"]["containerName"]: c["roles"] for c in storage}
    assert granted == {"configContainer": [BLOB_DATA_CONTRIBUTOR], "auditContainer": [BLOB_DATA_READER]}
    # setting a new source's secret means creating a secret: the vault is the only scope that allows it
    vault = [c for c in calls if c["scope"] == VAULT]
    assert [c["roles"] for c in vault] == [[SECRETS_OFFICER]]


def test_the_app_has_its_lake_roles_per_container():
    calls = role_calls(MODULES / "app-roles.bicep")
    lake = [c for c in calls if c["params"].get("accountName") == "lakeStorageName"]
    assert lake and all(c["scope"] == CONTAINER for c in lake), "the app's lake roles must be per container"
    granted = {c["params"]["containerName"]: c["roles"] for c in lake}
    # lake: dlt writes the data; config: the workbook is read and its watermarks written back
    # (ingest/config/writeback.py); audit: audit trail, summaries, job locks (leases)
    assert granted == {"lakeContainer": [BLOB_DATA_CONTRIBUTOR], "configContainer": [BLOB_DATA_CONTRIBUTOR],
                       "auditContainer": [BLOB_DATA_CONTRIBUTOR]}


def test_only_the_host_storage_has_account_wide_blob_roles():
    """The Functions host and Durable's task hub create their containers, queues and tables at
    run time (names derived from the host id and task hub), so the runtime account is the one
    place a role cannot be narrowed to a container."""
    for path in sorted(MODULES.glob("*.bicep")):
        for call in role_calls(path):
            if call["scope"] == ACCOUNT:
                assert (path.name, call["params"]["accountName"]) == ("app-roles.bicep", "runtimeStorageName"), \
                    f"{path.name}: account-wide storage role {call['roles']}"
                assert BLOB_DATA_OWNER in call["roles"]


def test_no_one_but_the_app_and_the_operator_holds_a_role_on_the_whole_vault():
    holders = {path.name for path in sorted(MODULES.glob("*.bicep"))
               for call in role_calls(path) if call["scope"] == VAULT}
    assert holders == {"app-roles.bicep", "operator-roles.bicep"}


def test_main_passes_the_lake_container_names_from_the_lake_module():
    main = parse(INFRA / "main.bicep")["modules"]
    for name in ("appRoles", "operatorRoles"):
        config = main[name]["config"]
        params = config.get("config", config)["params"]  # a condition wraps the body
        for container in ("configContainer", "auditContainer"):
            accessor = params[container]["operator"]["operands"]
            assert accessor["operand_1"] == "lake", f"{name}.{container}"
