// The app's user-assigned managed identity: one identity for the host storage, the lake,
// Key Vault and Application Insights, created before the app so its roles can be granted first.
param name string
param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
