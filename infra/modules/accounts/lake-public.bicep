// The lake account, networkIsolation = 'public': a public endpoint behind the firewall (default
// Deny; the app subnet through its service endpoint, trusted Azure services, listed operator
// IPs). Its twin lake-private.bicep differs only in publicNetworkAccess and networkAcls
// (tests/unit/test_infra_network.py). The containers, retention and logs: ../storage-lake.bicep.
param name string
param location string
param tags object
param subnetId string
@description('Operator IPv4 addresses or CIDR ranges admitted through the firewall (workbook uploads).')
param allowedIps array

@description('Replication of the lake: ZRS survives a zone; GZRS or RAGZRS where a region copy is required.')
@allowed(['Standard_ZRS', 'Standard_GRS', 'Standard_GZRS', 'Standard_RAGRS', 'Standard_RAGZRS'])
param skuName string = 'Standard_GZRS'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: skuName }
  properties: {
    isHnsEnabled: true
    accessTier: 'Hot'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    // checkov:skip=CKV_AZURE_59:networkIsolation=public, the first-try default: the public endpoint is restricted by networkAcls (default Deny; only the app subnet, trusted Azure services and listed operator IPs who upload the workbook). networkIsolation=private turns it off (lake-private.bicep).
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Deny'
      bypass: 'AzureServices'
      virtualNetworkRules: [ { id: subnetId, action: 'Allow' } ]
      ipRules: [for ip in allowedIps: { value: ip, action: 'Allow' }]
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: { enabled: true, keyType: 'Account' }
        file: { enabled: true, keyType: 'Account' }
      }
    }
  }
}

output name string = account.name
