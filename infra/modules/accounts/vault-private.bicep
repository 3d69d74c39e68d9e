// Key Vault in RBAC mode, networkIsolation = 'private': public network access off. The app
// reads secrets through a private endpoint in its VNet (../private-link.bicep); trusted Azure
// services (ADF reading the function key, the platform resolving Key Vault references) still
// pass, as the vault documents for publicNetworkAccess Disabled with bypass AzureServices. Its
// twin vault-public.bicep differs only in publicNetworkAccess and networkAcls.
param name string
param location string
param tags object

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
    publicNetworkAccess: 'Disabled'
    networkAcls: {
      defaultAction: 'Deny'
      bypass: 'AzureServices'
      virtualNetworkRules: []
      ipRules: []
    }
  }
}

output name string = vault.name
