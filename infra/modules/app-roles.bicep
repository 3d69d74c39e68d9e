// What the app's managed identity may do, one role per need, each assignment named by guid()
// so a re-deployment finds it again instead of failing on a duplicate.
param principalId string
param runtimeStorageName string
param lakeStorageName string
param lakeContainer string
param configContainer string
param auditContainer string
param keyVaultName string
param appInsightsName string

var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

// Host storage, account-wide on purpose: the Functions host creates and leases its own
// containers (azure-webjobs-hosts, azure-webjobs-secrets, the deployment package) and Durable
// Functions creates its task hub's queues and tables at start, named from the host id and the
// task hub; none exists before the app runs, so none can be a role's scope. Nothing but the
// host's own state lives in this account.
module runtimeStorageRoles 'roles/storage.bicep' = {
  name: 'app-roles-runtime-storage'
  params: {
    accountName: runtimeStorageName
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleIds: [roles.storageBlobDataOwner, roles.storageQueueDataContributor, roles.storageTableDataContributor]
  }
}

// The lake, one container at a time. lake: dlt writes the data and its state.
module lakeRoles 'roles/storage-container.bicep' = {
  name: 'app-roles-lake'
  params: {
    accountName: lakeStorageName
    containerName: lakeContainer
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleIds: [roles.storageBlobDataContributor]
  }
}

// config: the workbook is read, and its watermarks written back (ingest/config/writeback.py),
// so Contributor rather than Reader.
module configRoles 'roles/storage-container.bicep' = {
  name: 'app-roles-config'
  params: {
    accountName: lakeStorageName
    containerName: configContainer
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleIds: [roles.storageBlobDataContributor]
  }
}

// audit: the audit trail, run summaries, job locks (leases) and alert markers.
module auditRoles 'roles/storage-container.bicep' = {
  name: 'app-roles-audit'
  params: {
    accountName: lakeStorageName
    containerName: auditContainer
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleIds: [roles.storageBlobDataContributor]
  }
}

// Secrets, vault-wide on purpose: the Key Vault config provider reads whichever
// `<prefix>--sources--<connection>--...` secret a workbook's connection names, and operators add
// connections without a redeployment; the platform's Key Vault references too.
module keyVaultRoles 'roles/key-vault.bicep' = {
  name: 'app-roles-key-vault'
  params: {
    vaultName: keyVaultName
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleIds: [roles.keyVaultSecretsUser]
  }
}

// Telemetry with an Entra ID token (local auth is off on Application Insights).
module appInsightsRoles 'roles/app-insights.bicep' = {
  name: 'app-roles-app-insights'
  params: {
    appInsightsName: appInsightsName
    principalId: principalId
    roleIds: [roles.monitoringMetricsPublisher]
  }
}
