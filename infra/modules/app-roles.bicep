// What the app's managed identity may do, one role per need, each assignment named by guid()
// so a re-deployment finds it again instead of failing on a duplicate.
param principalId string
param runtimeStorageName string
param lakeStorageName string
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

// Host storage: the Functions host manages its containers and leases (Blob Data Owner);
// Durable Functions keeps its task hub in queues and tables.
module runtimeStorageRoles 'roles/storage.bicep' = {
  name: 'app-roles-runtime-storage'
  params: {
    accountName: runtimeStorageName
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleIds: [roles.storageBlobDataOwner, roles.storageQueueDataContributor, roles.storageTableDataContributor]
  }
}

// The lake, the workbook (read, watermark write-back), the audit trail and job locks (leases).
module lakeRoles 'roles/storage.bicep' = {
  name: 'app-roles-lake'
  params: {
    accountName: lakeStorageName
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleIds: [roles.storageBlobDataContributor]
  }
}

// Secrets: the Key Vault config provider and the platform's Key Vault references.
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
