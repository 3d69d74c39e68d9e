// existingDataFactoryName: a data factory the team already has, in its own resource group of
// this subscription. Nothing is created or changed here; this reads its name and the object
// id of its system-assigned identity (for httpAuth = entra and its Key Vault role), so that
// data-factory.bicep adds only the linked services, the pipeline and the role assignment.
param name string

resource factory 'Microsoft.DataFactory/factories@2018-06-01' existing = {
  name: name
}

output name string = factory.name
output principalId string = factory.identity.principalId
