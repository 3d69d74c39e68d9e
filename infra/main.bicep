// Every Azure resource of the ingest app, azd-shaped: `azd up` creates the resource group
// `rg-<environment>` and deploys the modules below into it. Nothing secret is a parameter or
// an output: credentials live in Key Vault and the app reads them with its managed identity.
targetScope = 'subscription'

@minLength(1)
@maxLength(40)
@description('azd environment name (dev, prod, ...); names the resource group and tags every resource.')
param environmentName string

@minLength(1)
@description('Azure region of every resource.')
param location string

@description('Object id of the person or pipeline running azd (AZURE_PRINCIPAL_ID): may upload the workbook and set Key Vault secrets. Empty: no such role.')
param principalId string = ''

@description('Kind of that principal, for its role assignments.')
@allowed(['User', 'ServicePrincipal', 'Group'])
param principalType string = 'User'

@description('Public IPv4 addresses or CIDR ranges, comma-separated, allowed through the storage and Key Vault firewalls (operators uploading the workbook, setting secrets). Empty: only the app\'s subnet and trusted Azure services.')
param operatorIpAddresses string = ''

@description('Prefix of Key Vault secret names (INGEST_KEY_VAULT_PREFIX): lowercase letters and digits, single dashes inside. Empty: none.')
param keyVaultSecretPrefix string = ''

@description('App settings that are Key Vault references, comma-separated names such as SOURCES__SALES_DB__CREDENTIALS,ALERTS__SMTP__PASSWORD. Each secret must exist before the app starts. Empty: the app reads secrets from the vault itself (INGEST_KEY_VAULT_URL).')
param keyVaultReferenceSettings string = ''

@description('NCRONTAB schedule of the timer trigger (INGEST_SCHEDULE): how often the app looks for due jobs; the jobs\' own schedule cells decide what runs. Every 15 minutes by default, so an hourly job loads hourly.')
param schedule string = '0 */15 * * * *'

@description('SMTP server for alert mails (INGEST_SMTP_HOST); empty sends no mail.')
param smtpHost string = ''

@description('Sender of the alert mails (INGEST_ALERT_FROM).')
param alertFrom string = ''

@description('Recipients of the alert mails, comma-separated (INGEST_ALERT_TO).')
param alertTo string = ''

@description('OpenLineage events (INGEST_LINEAGE_TRANSPORT): none (default), console, file or http (docs/lineage.md).')
@allowed(['none', 'console', 'file', 'http'])
param lineageTransport string = 'none'

@description('http: the OpenLineage endpoint (INGEST_LINEAGE_URL): Marquez, DataHub or the Purview connector.')
param lineageUrl string = ''

@description('http: the path events are POSTed to (INGEST_LINEAGE_ENDPOINT).')
param lineageEndpoint string = 'api/v1/lineage'

@description('http: the header that carries the API key LINEAGE__API_KEY (INGEST_LINEAGE_API_KEY_HEADER).')
param lineageApiKeyHeader string = 'Authorization'

@description('Memory of one Flex Consumption instance in MB: 4096 leaves room for large arrow batches.')
@allowed([2048, 4096])
param instanceMemoryMB int = 4096

@description('Most Flex Consumption instances at once.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('public (default, for a first try): storage and Key Vault keep a public endpoint behind their firewalls (the app subnet, trusted Azure services, operatorIpAddresses). private: their public network access is off; the app reaches them through private endpoints and private DNS zones in its VNet, and operators need a network path into that VNet (see README, Private networking).')
@allowed(['public', 'private'])
param networkIsolation string = 'public'

@description('Name of a data factory to use instead of creating one: only the linked services, the pipeline and the role assignment are deployed into it. Empty: a new factory adf-ingest-<token>.')
param existingDataFactoryName string = ''

@description('Resource group of existingDataFactoryName, in this subscription. Empty: the app\'s resource group.')
param existingDataFactoryResourceGroup string = ''

@description('Address space of the app\'s virtual network.')
param vnetAddressPrefix string = '10.20.0.0/16'

@description('Subnet of the Function App\'s outbound traffic (delegated to Flex Consumption).')
param appSubnetPrefix string = '10.20.0.0/24'

@description('Subnet of the private endpoints (networkIsolation = private; created either way, empty with public).')
param endpointSubnetPrefix string = '10.20.1.0/24'

@description('Who may call the HTTP routes (INGEST_HTTP_AUTH): functionKey (the function key), or entra: also an Entra ID token for the API\'s app registration, checked by App Service Authentication, from ADF\'s managed identity or airflowPrincipalId.')
@allowed(['functionKey', 'entra'])
param httpAuth string = 'functionKey'

@description('With entra: client id of the Entra app registration that stands for the HTTP API (tokens for api://<client id>). Created once outside this template.')
param entraApiClientId string = ''

@description('With entra: object id of the Airflow service principal allowed to call the API (besides ADF\'s managed identity). Empty: none.')
param airflowPrincipalId string = ''

var tags = { 'azd-env-name': environmentName }
var token = toLower(uniqueString(subscription().id, environmentName, location))
var operatorIps = filter(split(replace(operatorIpAddresses, ' ', ''), ','), ip => !empty(ip))
var isPrivate = networkIsolation == 'private'
var useExistingFactory = !empty(existingDataFactoryName)
var runtimeStorageName = 'stfn${token}'
var lakeStorageName = 'stlake${token}'
var keyVaultName = 'kv-ingest-${token}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: { name: 'id-ingest-${token}', location: location, tags: tags }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: { workspaceName: 'log-ingest-${token}', appInsightsName: 'appi-ingest-${token}', location: location, tags: tags }
}

module network 'modules/network.bicep' = {
  name: 'network'
  scope: rg
  params: {
    name: 'vnet-ingest-${token}'
    location: location
    tags: tags
    addressPrefix: vnetAddressPrefix
    appSubnetPrefix: appSubnetPrefix
    endpointSubnetPrefix: endpointSubnetPrefix
  }
}

// The two storage accounts and the vault, one module per network variant so that checkov scans
// each variant as written (tests/unit/test_infra_network.py); the modules after them add the
// containers, services and logs to whichever was created.
module runtimeAccountPublic 'modules/accounts/runtime-public.bicep' = if (!isPrivate) {
  name: 'account-runtime'
  scope: rg
  params: { name: runtimeStorageName, location: location, tags: tags, subnetId: network.outputs.appSubnetId, allowedIps: operatorIps }
}

module runtimeAccountPrivate 'modules/accounts/runtime-private.bicep' = if (isPrivate) {
  name: 'account-runtime'
  scope: rg
  params: { name: runtimeStorageName, location: location, tags: tags }
}

module lakeAccountPublic 'modules/accounts/lake-public.bicep' = if (!isPrivate) {
  name: 'account-lake'
  scope: rg
  params: { name: lakeStorageName, location: location, tags: tags, subnetId: network.outputs.appSubnetId, allowedIps: operatorIps }
}

module lakeAccountPrivate 'modules/accounts/lake-private.bicep' = if (isPrivate) {
  name: 'account-lake'
  scope: rg
  params: { name: lakeStorageName, location: location, tags: tags }
}

module vaultPublic 'modules/accounts/vault-public.bicep' = if (!isPrivate) {
  name: 'account-vault'
  scope: rg
  params: { name: keyVaultName, location: location, tags: tags, subnetId: network.outputs.appSubnetId, allowedIps: operatorIps }
}

module vaultPrivate 'modules/accounts/vault-private.bicep' = if (isPrivate) {
  name: 'account-vault'
  scope: rg
  params: { name: keyVaultName, location: location, tags: tags }
}

module privateLink 'modules/private-link.bicep' = if (isPrivate) {
  name: 'private-link'
  scope: rg
  dependsOn: [runtimeAccountPrivate, lakeAccountPrivate, vaultPrivate]
  params: {
    location: location
    tags: tags
    vnetId: network.outputs.vnetId
    subnetId: network.outputs.endpointSubnetId
    runtimeStorageName: runtimeStorageName
    lakeStorageName: lakeStorageName
    keyVaultName: keyVaultName
  }
}

module runtimeStorage 'modules/storage-runtime.bicep' = {
  name: 'storage-runtime'
  scope: rg
  dependsOn: [runtimeAccountPublic, runtimeAccountPrivate]
  params: {
    name: runtimeStorageName
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

module lake 'modules/storage-lake.bicep' = {
  name: 'storage-lake'
  scope: rg
  dependsOn: [lakeAccountPublic, lakeAccountPrivate]
  params: {
    name: lakeStorageName
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

module keyVault 'modules/key-vault.bicep' = {
  name: 'key-vault'
  scope: rg
  dependsOn: [vaultPublic, vaultPrivate]
  params: {
    name: keyVaultName
    logAnalyticsWorkspaceId: monitoring.outputs.workspaceId
  }
}

module appRoles 'modules/app-roles.bicep' = {
  name: 'app-roles'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    runtimeStorageName: runtimeStorage.outputs.name
    lakeStorageName: lake.outputs.name
    lakeContainer: lake.outputs.lakeContainer
    configContainer: lake.outputs.configContainer
    auditContainer: lake.outputs.auditContainer
    keyVaultName: keyVault.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
  }
}

module operatorRoles 'modules/operator-roles.bicep' = if (!empty(principalId)) {
  name: 'operator-roles'
  scope: rg
  params: {
    principalId: principalId
    principalType: principalType
    lakeStorageName: lake.outputs.name
    configContainer: lake.outputs.configContainer
    auditContainer: lake.outputs.auditContainer
    keyVaultName: keyVault.outputs.name
  }
}

// The factory first: with entra its identity is one of the app's allowed callers. Either a new
// one, or the team's own (existingDataFactoryName), which is only read here.
module factory 'modules/factory.bicep' = if (!useExistingFactory) {
  name: 'factory'
  scope: rg
  params: { name: 'adf-ingest-${token}', location: location, tags: tags }
}

module existingFactory 'modules/factory-existing.bicep' = if (useExistingFactory) {
  name: 'factory-existing-${environmentName}'
  scope: resourceGroup(factoryResourceGroup)
  params: { name: existingDataFactoryName }
}

var factoryResourceGroup = empty(existingDataFactoryResourceGroup) ? rg.name : existingDataFactoryResourceGroup
var factoryName = useExistingFactory ? existingFactory.outputs.name : factory.outputs.name
var factoryPrincipalId = useExistingFactory ? existingFactory.outputs.principalId : factory.outputs.principalId
var httpAllowedPrincipals = (httpAuth == 'entra') ? join(filter([factoryPrincipalId, airflowPrincipalId], id => !empty(id)), ',') : ''

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  // the host needs its storage roles (and, private, its endpoints) before it starts
  dependsOn: [appRoles, privateLink]
  params: {
    name: 'func-ingest-${token}'
    planName: 'plan-ingest-${token}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    subnetId: network.outputs.appSubnetId
    runtimeStorageName: runtimeStorage.outputs.name
    deploymentContainerUrl: runtimeStorage.outputs.deploymentContainerUrl
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    lakeStorageName: lake.outputs.name
    lakeContainer: lake.outputs.lakeContainer
    configUrl: lake.outputs.configUrl
    auditUrl: lake.outputs.auditUrl
    keyVaultUri: keyVault.outputs.uri
    keyVaultSecretPrefix: keyVaultSecretPrefix
    keyVaultReferenceSettings: keyVaultReferenceSettings
    schedule: schedule
    environmentLabel: environmentName
    smtpHost: smtpHost
    alertFrom: alertFrom
    alertTo: alertTo
    lineageTransport: lineageTransport
    lineageUrl: lineageUrl
    lineageEndpoint: lineageEndpoint
    lineageApiKeyHeader: lineageApiKeyHeader
    httpAuth: httpAuth
    entraApiClientId: entraApiClientId
    httpAllowedPrincipals: httpAllowedPrincipals
  }
}

module functionKey 'modules/function-key-secret.bicep' = {
  name: 'function-key-secret'
  scope: rg
  params: {
    functionAppName: functionApp.outputs.name
    keyVaultName: keyVault.outputs.name
  }
}

module dataFactory 'modules/data-factory.bicep' = {
  name: 'data-factory-${environmentName}'
  scope: resourceGroup(factoryResourceGroup)
  params: {
    name: factoryName
    functionAppUrl: functionApp.outputs.url
    keyVaultName: keyVault.outputs.name
    keyVaultResourceGroup: rg.name
    keyVaultUri: keyVault.outputs.uri
    functionKeySecretName: functionKey.outputs.secretName
    httpAuth: httpAuth
    entraApiClientId: entraApiClientId
  }
}

// azd writes these into .azure/<environment>/.env; none of them is a secret.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URL string = functionApp.outputs.url
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_URL string = keyVault.outputs.uri
output AZURE_LAKE_ACCOUNT string = lake.outputs.name
output AZURE_DATA_FACTORY_NAME string = dataFactory.outputs.name
output AZURE_OUTBOUND_IP string = network.outputs.outboundIp
output AZURE_NETWORK_ISOLATION string = networkIsolation
output INGEST_CONFIG_URL string = lake.outputs.configUrl
output INGEST_AUDIT_URL string = lake.outputs.auditUrl
