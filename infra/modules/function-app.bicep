// The Function App on Flex Consumption: no 10-minute cap like Consumption (host.json allows a
// load 2 hours), scale to zero between runs, identity-based host storage and deployment, and
// outbound traffic through the app subnet (NAT gateway IP, storage and vault firewalls).
// Its app settings are every setting the code reads (tests/unit/test_infra_settings.py).
param name string
param planName string
param location string
param tags object
param identityId string
param identityClientId string
param subnetId string
param runtimeStorageName string
param deploymentContainerUrl string
param appInsightsConnectionString string
param instanceMemoryMB int
param maximumInstanceCount int
param lakeStorageName string
param lakeContainer string
param configUrl string
param auditUrl string
param keyVaultUri string
param keyVaultSecretPrefix string
@description('Comma-separated app setting names that become Key Vault references.')
param keyVaultReferenceSettings string
param schedule string
param environmentLabel string
param smtpHost string
param alertFrom string
param alertTo string
@description('OpenLineage events (INGEST_LINEAGE_TRANSPORT): none, console, file or http.')
@allowed(['none', 'console', 'file', 'http'])
param lineageTransport string
@description('http: the OpenLineage endpoint (INGEST_LINEAGE_URL), e.g. https://marquez.example.com.')
param lineageUrl string
@description('http: the path events are POSTed to (INGEST_LINEAGE_ENDPOINT): api/v1/lineage for Marquez.')
param lineageEndpoint string
@description('http: the header carrying LINEAGE__API_KEY (INGEST_LINEAGE_API_KEY_HEADER): Authorization sends Bearer <key>.')
param lineageApiKeyHeader string
@description('INGEST_HTTP_AUTH: functionKey, or entra (App Service Authentication with Entra ID in front of every route).')
@allowed(['functionKey', 'entra'])
param httpAuth string
@description('With entra: client id of the app registration that stands for the API (token audience api://<client id>).')
param entraApiClientId string
@description('With entra: object ids of the allowed callers, comma-separated (INGEST_HTTP_ALLOWED_PRINCIPALS).')
param httpAllowedPrincipals string

var storageSuffix = environment().suffixes.storage

// Plain settings: none is a secret. The lake and the blobs are reached with the managed
// identity (AZURE_CLIENT_ID picks it for DefaultAzureCredential), so there is no
// INGEST_AZURE_STORAGE_CONNECTION_STRING on Azure.
var plainSettings = {
  // the Functions host and Durable Functions' task hub, with the managed identity
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: 'https://${runtimeStorageName}.blob.${storageSuffix}'
  AzureWebJobsStorage__queueServiceUri: 'https://${runtimeStorageName}.queue.${storageSuffix}'
  AzureWebJobsStorage__tableServiceUri: 'https://${runtimeStorageName}.table.${storageSuffix}'
  AzureWebJobsFeatureFlags: 'EnableWorkerIndexing'
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  AZURE_CLIENT_ID: identityClientId
  // the app (ingest/settings.py and the timer's %INGEST_SCHEDULE%)
  INGEST_SCHEDULE: schedule
  INGEST_CONFIG_URL: configUrl
  INGEST_AUDIT_URL: auditUrl
  INGEST_DESTINATION: 'abfss://${lakeContainer}@${lakeStorageName}.dfs.${storageSuffix}'
  INGEST_DATASET: 'raw'
  INGEST_LAYOUT: '{table_name}/{YYYY}/{MM}/{DD}/{load_id}.{file_id}.{ext}'
  INGEST_MAX_WORKERS: '5'
  INGEST_MAX_PARALLEL_JOBS: '10'
  INGEST_ACTIVITY_ISOLATION: 'warm'
  INGEST_JOB_RETRY_ATTEMPTS: '3'
  INGEST_JOB_RETRY_FIRST_INTERVAL_S: '30'
  INGEST_CHUNK_SIZE: '100000'
  INGEST_RETRY_ATTEMPTS: '3'
  INGEST_RETRY_INITIAL_S: '2'
  INGEST_RETRY_MAX_S: '60'
  INGEST_RETRY_JITTER_S: '1'
  INGEST_HTTP_MAX_ATTEMPTS: '5'
  INGEST_HTTP_BACKOFF_S: '1'
  INGEST_HTTP_MAX_DELAY_S: '60'
  INGEST_HTTP_TIMEOUT_S: '60'
  INGEST_SQL_BACKEND: ''
  INGEST_VALUE_CHECK: 'fail'
  INGEST_DASHBOARD_DAYS: '30'
  INGEST_PROGRESS_INTERVAL_S: '10'
  INGEST_WATERMARK_SAFETY_S: '0'
  INGEST_DELTA_MAINTENANCE_EVERY: '10'
  INGEST_DELTA_VACUUM_RETENTION_HOURS: '168'
  INGEST_CDC_LAG_ALERT_BYTES: '1073741824'
  INGEST_CDC_BATCH_CHANGES: '200000'
  INGEST_CDC_SPILL_BLOCK_CHANGES: '20000'
  // the app folder is read-only on Flex Consumption: local files go to the temp dir
  INGEST_AUDIT_DIR: '/tmp/ingest-audit'
  INGEST_LOG_DIR: '/tmp/ingest-logs'
  INGEST_PIPELINES_DIR: '/tmp/ingest-pipelines'
  INGEST_KEY_VAULT_URL: keyVaultUri
  INGEST_KEY_VAULT_PREFIX: keyVaultSecretPrefix
  INGEST_KEY_VAULT_CACHE_TTL_S: '300'
  INGEST_ENVIRONMENT: environmentLabel
  INGEST_SMTP_HOST: smtpHost
  INGEST_SMTP_PORT: ''
  INGEST_SMTP_SECURITY: 'starttls'
  INGEST_SMTP_TIMEOUT_S: '30'
  INGEST_SMTP_CA_FILE: ''
  INGEST_ALERT_FROM: alertFrom
  INGEST_ALERT_TO: alertTo
  INGEST_ALERT_SUMMARY_HOUR: '0'
  // OpenLineage events (ingest/records/lineage/); the API key is LINEAGE__API_KEY in Key Vault
  INGEST_LINEAGE_TRANSPORT: lineageTransport
  INGEST_LINEAGE_NAMESPACE: 'ingest-${environmentLabel}'
  INGEST_LINEAGE_URL: lineageUrl
  INGEST_LINEAGE_ENDPOINT: lineageEndpoint
  INGEST_LINEAGE_API_KEY_HEADER: lineageApiKeyHeader
  INGEST_LINEAGE_TIMEOUT_S: '5'
  INGEST_LINEAGE_FILE: '/tmp/ingest-audit/lineage.jsonl'
  // who may call the HTTP routes (ingest/drivers/azure/http_auth.py; Easy Auth below)
  INGEST_HTTP_AUTH: httpAuth
  INGEST_HTTP_ALLOWED_PRINCIPALS: httpAllowedPrincipals
}

// SOURCES__<CONNECTION>__CREDENTIALS, ALERTS__SMTP__USER, ... named in the parameter become
// Key Vault references to the secret the app's own Key Vault provider would read
// (ingest/keyvault/names.py: `<prefix>--sources--sales-db--credentials`); the platform resolves
// them with the managed identity. Never a value in clear.
var referenceNames = filter(split(replace(keyVaultReferenceSettings, ' ', ''), ','), n => !empty(n))
var secretPrefix = empty(keyVaultSecretPrefix) ? '' : '${keyVaultSecretPrefix}--'
var referenceSettings = [for settingName in referenceNames: {
  name: settingName
  value: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${secretPrefix}${toLower(replace(replace(settingName, '__', '--'), '_', '-'))})'
}]
var plainSettingsList = [for setting in items(plainSettings): { name: setting.key, value: setting.value }]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  // checkov:skip=CKV_AZURE_225:Zone redundancy of Flex Consumption is not offered in every region. A run lost with a zone is started again: loads are idempotent (the watermark lives in dlt state in the lake).
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    // checkov:skip=CKV_AZURE_222:The HTTP API (POST /api/runs and the Durable status URLs) is called by the Data Factory Azure integration runtime and operators over the internet. Every function needs a function key.
    // checkov:skip=CKV_AZURE_17:Callers authenticate with function keys. ADF's Azure Function activity cannot present a client certificate.
    // checkov:skip=CKV_AZURE_212:numberOfWorkers is an App Service plan instance count. Flex Consumption scales per demand from zero and Durable replays an orchestration on any instance.
    // checkov:skip=CKV_AZURE_213:No long-lived instance pool to probe on Flex Consumption. A job activity lost with its instance is retried by the orchestrator (INGEST_JOB_RETRY_ATTEMPTS).
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: identityId
    virtualNetworkSubnetId: subnetId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: concat(plainSettingsList, referenceSettings)
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identityId }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      // Flex Consumption takes the worker runtime here, not as FUNCTIONS_WORKER_RUNTIME
      runtime: { name: 'python', version: '3.11' }
    }
  }
}

// Entra ID in front of every route (httpAuth = entra): App Service Authentication validates the
// caller's token (audience: the API's app registration), answers 401 without one and 403 to a
// caller not in the allowed list, strips caller-sent X-MS-CLIENT-PRINCIPAL* headers and injects
// its own, which the handlers check again (ingest/drivers/azure/http_auth.py). The function key
// stays required (auth_level FUNCTION); locally there is no Easy Auth and INGEST_HTTP_AUTH is
// functionKey, so the headers are never read there. checkov applies its checks of the `web`
// config section to every Microsoft.Web/sites/config; the skips below are those that do not
// apply to authsettingsV2, whose schema has none of their properties.
var allowedIdentities = filter(split(replace(httpAllowedPrincipals, ' ', ''), ','), id => !empty(id))

resource auth 'Microsoft.Web/sites/config@2024-04-01' = if (httpAuth == 'entra') {
  parent: app
  // checkov:skip=CKV_AZURE_13:That check reads the v1 `authsettings` shape (properties.enabled). This is authsettingsV2: platform.enabled is true (CKV_AZURE_56 passes on it).
  // checkov:skip=CKV_AZURE_222:Public network access is a property of the site (skipped there with its reason), not of authsettingsV2. This resource is what puts Entra ID in front of it.
  name: 'authsettingsV2'
  // checkov:skip=CKV_AZURE_63:HTTP logging is a property of the web config section, not of authsettingsV2. Flex Consumption sends request telemetry to Application Insights.
  // checkov:skip=CKV_AZURE_65:Detailed error logging is a property of the web config section, not of authsettingsV2. Flex Consumption has no IIS error pages to log.
  properties: {
    // checkov:skip=CKV_AZURE_66:Failed request tracing is a property of the web config section, not of authsettingsV2. Failed requests are in Application Insights.
    // checkov:skip=CKV_AZURE_80:netFrameworkVersion is a property of the web config section, not of authsettingsV2. The app runs Python 3.11, no .NET Framework.
    platform: { enabled: true }
    // checkov:skip=CKV_AZURE_88:Azure Files mounts are a property of the web config section, not of authsettingsV2. Flex Consumption deploys from a blob container with the identity.
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
    }
    httpSettings: { requireHttps: true }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: entraApiClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: ['api://${entraApiClientId}', entraApiClientId]
          defaultAuthorizationPolicy: {
            allowedPrincipals: { identities: allowedIdentities }
          }
        }
      }
    }
    // no browser sessions: callers are services presenting bearer tokens
    login: { tokenStore: { enabled: false } }
  }
}

// No publishing with user name and password: azd deploys with Entra ID.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: { allow: false }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: { allow: false }
}

output name string = app.name
output url string = 'https://${app.properties.defaultHostName}'
