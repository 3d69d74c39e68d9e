// The person or pipeline running azd: uploads the workbook and reads the audit (lake account),
// sets source credentials (Key Vault). Data-plane rights that a subscription Owner lacks.
param principalId string
@allowed(['User', 'ServicePrincipal', 'Group'])
param principalType string
param lakeStorageName string
param keyVaultName string

module lakeRoles 'roles/storage.bicep' = {
  name: 'operator-roles-lake'
  params: {
    accountName: lakeStorageName
    principalId: principalId
    principalType: principalType
    roleIds: ['ba92f5b4-2d11-453d-a403-e96b0029c9fe'] // Storage Blob Data Contributor
  }
}

module keyVaultRoles 'roles/key-vault.bicep' = {
  name: 'operator-roles-key-vault'
  params: {
    vaultName: keyVaultName
    principalId: principalId
    principalType: principalType
    roleIds: ['b86a8fe4-44ce-4948-aee5-eccb2c155cd7'] // Key Vault Secrets Officer
  }
}
