// Role assignments on one Key Vault (RBAC mode), named by guid(vault, principal, role).
param vaultName string
param principalId string
@allowed(['User', 'ServicePrincipal', 'Group'])
param principalType string
@description('Role definition ids (GUIDs).')
param roleIds array

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in roleIds: {
  name: guid(vault.id, principalId, roleId)
  scope: vault
  properties: {
    principalId: principalId
    principalType: principalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
  }
}]
