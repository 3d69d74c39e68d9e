// Azure Data Factory: starts a run through the Function App's HTTP API and waits for it.
// The factory exists already (factory.bicep, or the team's own with existingDataFactoryName:
// then this module is deployed into that factory's resource group); this adds what needs the
// app, and nothing else. The pipeline is
// infra/adf/ingest_pipeline.json itself (one source of truth); its linked service
// `ls_ingest_function` calls the app with the function key from Key Vault, read with the
// factory's managed identity, and with httpAuth = entra also with an Entra ID token of that
// identity for the API's app registration (`authentication: MSI`, `resourceId`).
param name string
param functionAppUrl string
param keyVaultName string
@description('Resource group of the vault (the app\'s), which may differ from the factory\'s.')
param keyVaultResourceGroup string
@description('https://<vault>.vault.azure.net/ (the vault\'s URI).')
param keyVaultUri string
param functionKeySecretName string
@allowed(['functionKey', 'entra'])
param httpAuth string
@description('With entra: client id of the app registration that stands for the API (the token audience).')
param entraApiClientId string

var pipeline = loadJsonContent('../adf/ingest_pipeline.json')

resource factory 'Microsoft.DataFactory/factories@2018-06-01' existing = {
  name: name
}

// The function key always (the routes keep auth_level FUNCTION); with entra, the factory's
// managed identity also asks Entra ID for a token whose audience is the API's app registration.
var functionKeyLink = {
  functionAppUrl: functionAppUrl
  functionKey: {
    type: 'AzureKeyVaultSecret'
    store: { referenceName: keyVaultLink.name, type: 'LinkedServiceReference' }
    secretName: functionKeySecretName
  }
}
var entraLink = (httpAuth == 'entra') ? { authentication: 'MSI', resourceId: 'api://${entraApiClientId}' } : {}

// The factory reads one secret, the function key: its role is on that secret, not the vault.
module factoryRoles 'roles/key-vault-secret.bicep' = {
  name: 'adf-roles-function-key'
  scope: resourceGroup(keyVaultResourceGroup)
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
    typeProperties: { baseUrl: keyVaultUri }
  }
}

resource functionLink 'Microsoft.DataFactory/factories/linkedservices@2018-06-01' = {
  parent: factory
  name: 'ls_ingest_function'
  properties: {
    type: 'AzureFunction'
    typeProperties: union(functionKeyLink, entraLink)
  }
}

resource ingestPipeline 'Microsoft.DataFactory/factories/pipelines@2018-06-01' = {
  parent: factory
  name: pipeline.name
  properties: pipeline.properties
  dependsOn: [functionLink]
}

output name string = factory.name
