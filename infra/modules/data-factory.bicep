// Azure Data Factory: starts a run through the Function App's HTTP API and waits for it.
// The pipeline is infra/adf/ingest_pipeline.json itself (one source of truth); its linked
// service `ls_ingest_function` calls the app with the function key from Key Vault, read with
// the factory's managed identity.
param name string
param location string
param tags object
param functionAppUrl string
param keyVaultName string
param functionKeySecretName string

var pipeline = loadJsonContent('../adf/ingest_pipeline.json')

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource factory 'Microsoft.DataFactory/factories@2018-06-01' = {
  name: name
  location: location
  tags: tags
  // checkov:skip=CKV_AZURE_104:Operators open ADF Studio and the run monitor from their network. Disabled needs a private endpoint for the portal. The factory holds no data and only calls the Function App.
  // checkov:skip=CKV_AZURE_103:The pipeline's source of truth is infra/adf/ingest_pipeline.json in this repository, deployed by this template. A factory Git repository would be a second copy edited in ADF Studio.
  identity: { type: 'SystemAssigned' }
  properties: {}
}

// The factory reads one secret, the function key: its role is on that secret, not the vault.
module factoryRoles 'roles/key-vault-secret.bicep' = {
  name: 'adf-roles-function-key'
  params: {
    vaultName: keyVaultName
    secretName: functionKeySecretName
    principalId: factory.identity.principalId
    principalType: 'ServicePrincipal'
    roleIds: ['4633458b-17de-408a-b874-0445c86b69e6'] // Key Vault Secrets User
  }
}

resource keyVaultLink 'Microsoft.DataFactory/factories/linkedservices@2018-06-01' = {
  parent: factory
  name: 'ls_key_vault'
  properties: {
    type: 'AzureKeyVault'
    typeProperties: { baseUrl: vault.properties.vaultUri }
  }
}

resource functionLink 'Microsoft.DataFactory/factories/linkedservices@2018-06-01' = {
  parent: factory
  name: 'ls_ingest_function'
  properties: {
    type: 'AzureFunction'
    typeProperties: {
      functionAppUrl: functionAppUrl
      functionKey: {
        type: 'AzureKeyVaultSecret'
        store: { referenceName: keyVaultLink.name, type: 'LinkedServiceReference' }
        secretName: functionKeySecretName
      }
    }
  }
}

resource ingestPipeline 'Microsoft.DataFactory/factories/pipelines@2018-06-01' = {
  parent: factory
  name: pipeline.name
  properties: pipeline.properties
  dependsOn: [functionLink]
}

output name string = factory.name
