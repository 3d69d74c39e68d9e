// The Function App's default function key, copied into Key Vault for ADF's linked service.
// It goes from one resource to the other inside the deployment: never a parameter or an output.
param functionAppName string
param keyVaultName string

@description('Name of the secret ADF reads.')
param secretName string = 'adf-function-key'

@description('When the copy expires; every deployment writes a fresh one.')
param expiresAt string = dateTimeAdd(utcNow(), 'P1Y')

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: secretName
  properties: {
    value: listKeys('${app.id}/host/default', '2024-04-01').functionKeys.default
    contentType: 'Azure Functions function key'
    attributes: {
      enabled: true
      exp: dateTimeToEpoch(expiresAt)
    }
  }
}

output secretName string = secret.name
