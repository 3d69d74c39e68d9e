// The app's outbound network: a subnet delegated to Flex Consumption with service endpoints
// to Storage and Key Vault (their firewalls admit this subnet only), and a NAT gateway whose
// one static public IP is the address every source database's firewall allows; and a subnet for
// the private endpoints of storage and Key Vault (used with networkIsolation = 'private').
param name string
param location string
param tags object
param addressPrefix string
param appSubnetPrefix string
param endpointSubnetPrefix string

resource outboundIp 'Microsoft.Network/publicIPAddresses@2024-05-01' = {
  name: 'pip-${name}'
  location: location
  tags: tags
  sku: { name: 'Standard' }
  properties: {
    publicIPAllocationMethod: 'Static'
    publicIPAddressVersion: 'IPv4'
  }
}

resource nat 'Microsoft.Network/natGateways@2024-05-01' = {
  name: 'ng-${name}'
  location: location
  tags: tags
  sku: { name: 'Standard' }
  properties: {
    idleTimeoutInMinutes: 10
    publicIpAddresses: [ { id: outboundIp.id } ]
  }
}

// No rules of its own: the app subnet only carries the app's outbound traffic, and the
// endpoints subnet answers only inside the VNet (the default rules admit VNet traffic).
resource nsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-${name}'
  location: location
  tags: tags
  properties: { securityRules: [] }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: { addressPrefixes: [ addressPrefix ] }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: appSubnetPrefix
          networkSecurityGroup: { id: nsg.id }
          natGateway: { id: nat.id }
          serviceEndpoints: [
            { service: 'Microsoft.Storage' }
            { service: 'Microsoft.KeyVault' }
          ]
          delegations: [
            { name: 'flex-consumption', properties: { serviceName: 'Microsoft.App/environments' } }
          ]
        }
      }
      {
        // private endpoints only: no delegation, no outbound route of its own
        name: 'endpoints'
        properties: {
          addressPrefix: endpointSubnetPrefix
          networkSecurityGroup: { id: nsg.id }
          privateEndpointNetworkPolicies: 'Enabled'
        }
      }
    ]
  }
}

output appSubnetId string = vnet.properties.subnets[0].id
output endpointSubnetId string = vnet.properties.subnets[1].id
output vnetId string = vnet.id
output outboundIp string = outboundIp.properties.ipAddress
