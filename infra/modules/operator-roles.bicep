// The person or pipeline running azd: uploads the workbook (the `config` container), reads the
// audit trail and run summaries (the `audit` container), sets source credentials (Key Vault).
// Data-plane rights that a subscription Owner lacks, each on the container it needs: the
// `lake` container (the data) is not theirs to write.
param principalId string
@allowed(['User', 'ServicePrincipal', 'Group'])
param principalType string
param lakeStorageName string
param configContainer string
param auditContainer string
param keyVaultName string

var roles = {
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDataReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
}

module configRoles 'roles/storage-container.bicep' = {
  name: 'operator-roles-config'
  params: {
    accountName: lakeStorageName
    containerName: configContainer
    principalId: principalId
    principalType: principalType
    roleIds: [roles.storageBlobDataContributor]
  }
}

module auditRoles 'roles/storage-container.bicep' = {
  name: 'operator-roles-audit'
  params: {
    accountName: lakeStorageName
    containerName: auditContainer
    principalId: principalId
    principalType: principalType
    roleIds: [roles.storageBlobDataReader]
  }
}

// On the vault: setting a new connection's credentials creates a secret, which no role on an
// existing secret allows.
module keyVaultRoles 'roles/key-vault.bicep' = {
  name: 'operator-roles-key-vault'
  params: {
    vaultName: keyVaultName
    principalId: principalId
    principalType: principalType
    roleIds: [roles.keyVaultSecretsOfficer]
  }
}
