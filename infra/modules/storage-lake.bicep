// The data lake: an ADLS Gen2 account (hierarchical namespace) with the `lake` container dlt
// writes to (abfss://lake@<account>.dfs...), `config` for the workbook and `audit` for the
// audit trail, run summaries, job locks and alert markers. Identity only, no shared keys. The
// account itself comes from accounts/lake-{public,private}.bicep, chosen by networkIsolation.
param name string
param logAnalyticsWorkspaceId string

var containers = ['lake', 'config', 'audit']

// Created by accounts/lake-public.bicep or accounts/lake-private.bicep (networkIsolation).
resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: name
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: { enabled: true, days: 14 }
    containerDeleteRetentionPolicy: { enabled: true, days: 14 }
  }
}

resource container 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for c in containers: {
  parent: blobService
  name: c
  properties: { publicAccess: 'None' }
}]

resource blobLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'blob-to-log-analytics'
  scope: blobService
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [
      { category: 'StorageRead', enabled: true }
      { category: 'StorageWrite', enabled: true }
      { category: 'StorageDelete', enabled: true }
    ]
  }
}

output name string = account.name
output lakeContainer string = containers[0]
output configContainer string = containers[1]
output auditContainer string = containers[2]
output configUrl string = '${account.properties.primaryEndpoints.blob}${containers[1]}/ingestion_config.xlsx'
output auditUrl string = '${account.properties.primaryEndpoints.blob}${containers[2]}'
