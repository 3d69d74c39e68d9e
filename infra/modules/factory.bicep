// The data factory itself, with its system-assigned identity, created before the Function App:
// with httpAuth = entra the app admits this identity's object id (Easy Auth and
// INGEST_HTTP_ALLOWED_PRINCIPALS). Its linked services, pipeline and role come later, in
// data-factory.bicep, once the app and the function-key secret exist.
param name string
param location string
param tags object

resource factory 'Microsoft.DataFactory/factories@2018-06-01' = {
  name: name
  location: location
  tags: tags
  // checkov:skip=CKV_AZURE_104:Operators open ADF Studio and the run monitor from their network. Disabled needs a private endpoint for the portal. The factory holds no data and only calls the Function App.
  // checkov:skip=CKV_AZURE_103:The pipeline's source of truth is infra/adf/ingest_pipeline.json in this repository, deployed by this template. A factory Git repository would be a second copy edited in ADF Studio.
  identity: { type: 'SystemAssigned' }
  properties: {}
}

output name string = factory.name
output principalId string = factory.identity.principalId
