// Log Analytics and a workspace-based Application Insights that accepts only Entra ID
// (managed identity) telemetry: its connection string alone cannot send data.
param workspaceName string
param appInsightsName string
param location string
param tags object

@description('Days Log Analytics keeps the logs.')
param retentionInDays int = 30

resource workspace 'Microsoft.OperationalInsights/workspaces@2022-10-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: retentionInDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

output workspaceId string = workspace.id
output appInsightsName string = appInsights.name
// Not a secret once local auth is off: it names the resource; sending needs an Entra ID token.
output appInsightsConnectionString string = appInsights.properties.ConnectionString
