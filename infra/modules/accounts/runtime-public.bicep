// The Functions host's storage account (AzureWebJobsStorage: leases, the deployment package,
// Durable's task hub queues and tables), networkIsolation = 'public': a public endpoint behind
// the firewall (default Deny; the app subnet, trusted Azure services, listed operator IPs).
// Its twin runtime-private.bicep differs only in publicNetworkAccess and networkAcls
// (tests/unit/test_infra_network.py). Containers, services and logs: ../storage-runtime.bicep.
param name string
param location string
param tags object
param subnetId string
@description('Operator IPv4 addresses or CIDR ranges admitted through the firewall.')
param allowedIps array

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  // checkov:skip=CKV_AZURE_206:The host's leases, queues and task hub are working state; zone-redundant or geo copies add cost, not recovery (a lost task hub means re-running a load, which is idempotent).
  sku: { name: 'Standard_LRS' }
  properties: {
    accessTier: 'Hot'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    // checkov:skip=CKV_AZURE_59:networkIsolation=public, the first-try default: the public endpoint is restricted by networkAcls (default Deny; only the app subnet, trusted Azure services and listed operator IPs). networkIsolation=private turns it off (runtime-private.bicep).
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
        queue: { enabled: true, keyType: 'Account' }
        table: { enabled: true, keyType: 'Account' }
      }
    }
  }
}

output name string = account.name
