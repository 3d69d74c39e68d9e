// Key Vault in RBAC mode, networkIsolation = 'public': a public endpoint behind the firewall
// (default Deny; the app subnet, trusted Azure services such as ADF reading the function key
// and the platform resolving Key Vault references, listed operator IPs). Its twin
// vault-private.bicep differs only in publicNetworkAccess and networkAcls
// (tests/unit/test_infra_network.py). The audit log: ../key-vault.bicep.
param name string
param location string
param tags object
param subnetId string
@description('Operator IPv4 addresses or CIDR ranges admitted through the firewall (setting secrets).')
param allowedIps array

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

output name string = vault.name
