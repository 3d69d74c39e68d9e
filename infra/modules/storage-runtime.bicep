// The Functions host's own storage (AzureWebJobsStorage): blobs (leases, the deployment
// package), queues and tables (Durable Functions' task hub). Reached only with the app's
// managed identity, from the app's subnet; shared keys are off.
param name string
param location string
param tags object
param subnetId string
@description('Operator IPv4 addresses or CIDR ranges admitted through the firewall.')
param allowedIps array
param logAnalyticsWorkspaceId string

@description('Blob container of the Flex Consumption deployment package (azd deploy writes it).')
param deploymentContainer string = 'app-package'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  // checkov:skip=CKV_AZURE_206:The host's leases, queues and task hub are working state; zone-redundant or geo copies add cost, not recovery (a lost task hub means re-running a load, which is idempotent).
  sku: { name: 'Standard_LRS' }
  properties: {
    accessTier: 'Hot'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    // checkov:skip=CKV_AZURE_59:Public endpoint restricted by networkAcls (default Deny; only the app subnet, trusted Azure services and listed operator IPs). Disabled would require private endpoints and DNS zones for each service.
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
        queue: { enabled: true, keyType: 'Account' }
        table: { enabled: true, keyType: 'Account' }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: { enabled: true, days: 7 }
    containerDeleteRetentionPolicy: { enabled: true, days: 7 }
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource packageContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainer
  properties: { publicAccess: 'None' }
}

resource queueLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'queue-to-log-analytics'
  scope: queueService
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
output deploymentContainerUrl string = '${account.properties.primaryEndpoints.blob}${packageContainer.name}'
