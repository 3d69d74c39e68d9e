// Key Vault in RBAC mode: source credentials, the SMTP login and the function key ADF calls
// the app with. The app reads secrets with its managed identity (Key Vault Secrets User). The
// vault itself comes from accounts/vault-{public,private}.bicep, chosen by networkIsolation;
// this module adds its audit log and gives its name and URI to the rest.
param name string
param logAnalyticsWorkspaceId string

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: name
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
