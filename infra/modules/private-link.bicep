// networkIsolation = 'private': private endpoints in the VNet's `endpoints` subnet for the host
// storage (blob, queue, table: leases, the deployment package, Durable's task hub), the lake
// (blob, dfs) and Key Vault, each registered in its privatelink DNS zone, which is linked to
// the VNet so the app's usual host names (<account>.blob.core.windows.net, ...) resolve to the
// private addresses. The accounts themselves have public network access off.
param location string
param tags object
param vnetId string
param subnetId string
param runtimeStorageName string
param lakeStorageName string
param keyVaultName string

var storageSuffix = environment().suffixes.storage
// Key Vault's private link zone is not derived from the vault's DNS suffix (public cloud name).
var vaultZone = 'privatelink.vaultcore.azure.net'

var endpoints = [
  { name: 'pe-${runtimeStorageName}-blob', target: resourceId('Microsoft.Storage/storageAccounts', runtimeStorageName), group: 'blob', zone: 'privatelink.blob.${storageSuffix}' }
  { name: 'pe-${runtimeStorageName}-queue', target: resourceId('Microsoft.Storage/storageAccounts', runtimeStorageName), group: 'queue', zone: 'privatelink.queue.${storageSuffix}' }
  { name: 'pe-${runtimeStorageName}-table', target: resourceId('Microsoft.Storage/storageAccounts', runtimeStorageName), group: 'table', zone: 'privatelink.table.${storageSuffix}' }
  { name: 'pe-${lakeStorageName}-blob', target: resourceId('Microsoft.Storage/storageAccounts', lakeStorageName), group: 'blob', zone: 'privatelink.blob.${storageSuffix}' }
  { name: 'pe-${lakeStorageName}-dfs', target: resourceId('Microsoft.Storage/storageAccounts', lakeStorageName), group: 'dfs', zone: 'privatelink.dfs.${storageSuffix}' }
  { name: 'pe-${keyVaultName}-vault', target: resourceId('Microsoft.KeyVault/vaults', keyVaultName), group: 'vault', zone: vaultZone }
]
var zoneNames = [
  'privatelink.blob.${storageSuffix}'
  'privatelink.dfs.${storageSuffix}'
  'privatelink.queue.${storageSuffix}'
  'privatelink.table.${storageSuffix}'
  vaultZone
]

resource zone 'Microsoft.Network/privateDnsZones@2020-06-01' = [for z in zoneNames: {
  name: z
  location: 'global'
  tags: tags
}]

resource zoneLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = [for (z, i) in zoneNames: {
  parent: zone[i]
  name: 'link-app-vnet'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: { id: vnetId }
  }
}]

resource endpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = [for e in endpoints: {
  name: e.name
  location: location
  tags: tags
  properties: {
    subnet: { id: subnetId }
    privateLinkServiceConnections: [
      {
        name: e.name
        properties: { privateLinkServiceId: e.target, groupIds: [ e.group ] }
      }
    ]
  }
}]

resource zoneGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [for (e, i) in endpoints: {
  parent: endpoint[i]
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      { name: replace(e.zone, '.', '-'), properties: { privateDnsZoneId: resourceId('Microsoft.Network/privateDnsZones', e.zone) } }
    ]
  }
  dependsOn: [zone]
}]

output endpointNames array = [for e in endpoints: e.name]
