// Role assignments on one storage account, named by guid(account, principal, role).
param accountName string
param principalId string
@allowed(['User', 'ServicePrincipal', 'Group'])
param principalType string
@description('Role definition ids (GUIDs).')
param roleIds array

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: accountName
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for roleId in roleIds: {
  name: guid(account.id, principalId, roleId)
  scope: account
  properties: {
    principalId: principalId
    principalType: principalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
  }
}]
