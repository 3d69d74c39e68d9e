// The data lake: an ADLS Gen2 account (hierarchical namespace) with the `lake` container dlt
// writes to (abfss://lake@<account>.dfs...), `config` for the workbook and `audit` for the
// audit trail, run summaries, job locks and alert markers. Identity only, no shared keys.
param name string
param location string
param tags object
param subnetId string
@description('Operator IPv4 addresses or CIDR ranges admitted through the firewall (workbook uploads).')
param allowedIps array
param logAnalyticsWorkspaceId string

@description('Replication of the lake: ZRS survives a zone; GZRS or RAGZRS where a region copy is required.')
@allowed(['Standard_ZRS', 'Standard_GRS', 'Standard_GZRS', 'Standard_RAGRS', 'Standard_RAGZRS'])
param skuName string = 'Standard_GZRS'

var containers = ['lake', 'config', 'audit']

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: skuName }
  properties: {
    isHnsEnabled: true
    accessTier: 'Hot'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    // checkov:skip=CKV_AZURE_59:Public endpoint restricted by networkAcls (default Deny; only the app subnet, trusted Azure services and listed operator IPs who upload the workbook). Disabled would require private endpoints and a network path for every operator.
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Deny'
      bypass: 'AzureServices'
      virtualNetworkRules: [ { id: subnetId, action: 'Allow' } ]
      ipRules: [for ip in allowedIps: { value: ip, action: 'Allow' }]
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: { enabled: true, keyType: 'Account' }
        file: { enabled: true, keyType: 'Account' }
      }
    }
  }
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
