// Key Vault in RBAC mode: source credentials, the SMTP login and the function key ADF calls
// the app with. The app reads secrets with its managed identity (Key Vault Secrets User),
// from its subnet; ADF and the platform's Key Vault references come in as trusted services.
param name string
param location string
param tags object
param subnetId string
@description('Operator IPv4 addresses or CIDR ranges admitted through the firewall (setting secrets).')
param allowedIps array
param logAnalyticsWorkspaceId string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Deny'
      bypass: 'AzureServices'
      virtualNetworkRules: [ { id: subnetId } ]
      ipRules: [for ip in allowedIps: { value: ip }]
    }
  }
}

// Every secret read (the app's audit line has its counterpart here) and every change.
resource auditLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalyticsWorkspaceId
    logs: [ { category: 'AuditEvent', enabled: true } ]
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
