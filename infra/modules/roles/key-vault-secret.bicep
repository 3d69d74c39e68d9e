// Role assignments on one Key Vault secret (RBAC mode), named by guid(secret, principal, role):
// a principal that reads one secret is not granted the whole vault.
param vaultName string
param secretName string
param principalId string
@allowed(['User', 'ServicePrincipal', 'Group'])
param principalType string
@description('Role definition ids (GUIDs).')
param roleIds array

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = {
  parent: vault
  name: secretName
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in roleIds: {
  name: guid(secret.id, principalId, roleId)
  scope: secret
  properties: {
    principalId: principalId
    principalType: principalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
  }
}]
