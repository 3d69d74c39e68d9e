// The Functions host's own storage (AzureWebJobsStorage): blobs (leases, the deployment
// package), queues and tables (Durable Functions' task hub). Reached only with the app's
// managed identity, from the app's subnet or its private endpoints; shared keys are off. The
// account itself comes from accounts/runtime-{public,private}.bicep, chosen by networkIsolation.
param name string
param logAnalyticsWorkspaceId string

@description('Blob container of the Flex Consumption deployment package (azd deploy writes it).')
param deploymentContainer string = 'app-package'

// Created by accounts/runtime-public.bicep or accounts/runtime-private.bicep (networkIsolation).
resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: name
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
