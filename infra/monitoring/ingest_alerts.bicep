// Azure Monitor alerts on the ingest Function App's telemetry (ingest/telemetry.py): a record per
// job ("ingest.job ...") and per run ("ingest.run ...") in the Application Insights `traces`.
// The queries read the custom dimensions (customDimensions.status, ...) when the app exports
// them through OpenTelemetry (optional package azure-monitor-opentelemetry), and otherwise the same
// values from the message text (key=value pairs), which the Functions host always forwards.
//
// Deploy into the resource group of the Application Insights component:
//   az deployment group create -g <rg> -f infra/monitoring/ingest_alerts.bicep \
//     -p appInsightsName=<appi-name> actionGroupId=<action-group-resource-id> environment=prod
targetScope = 'resourceGroup'

@description('Name of the Application Insights component the Function App writes to (same resource group).')
param appInsightsName string

@description('Resource id of an action group (mail, Teams, SMS) to notify; empty: the alerts fire without a notification.')
param actionGroupId string = ''

@description('Environment label in the rule names: dev, test, prod.')
param environment string = 'prod'

@description('Hours without a finished run before the "no run" alert fires; the daily schedule needs a little over 24.')
@minValue(1)
@maxValue(48)
param maxHoursWithoutRun int = 26

@description('Severity of the failed-job alert (0 critical .. 4 verbose).')
@minValue(0)
@maxValue(4)
param failedJobSeverity int = 2

param location string = resourceGroup().location
param tags object = {}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// One row per job of a run, whichever way the dimensions arrived. A record can arrive twice
// (host and OpenTelemetry): count distinct runs, never records.
var jobEvents = '''
traces
| where message startswith "ingest.job "
| extend run_id = coalesce(tostring(customDimensions.run_id), extract(@"\brun_id=(\S+)", 1, message))
| extend job_name = coalesce(tostring(customDimensions.job_name), extract(@"\bjob_name=(\S+)", 1, message))
| extend status = coalesce(tostring(customDimensions.status), extract(@"\bstatus=(\S+)", 1, message))
| extend error_class = coalesce(tostring(customDimensions.error_class), extract(@"\berror_class=(\S+)", 1, message), "none")
'''

var failedJobsTail = '''
| where status in ("failed", "invalid")
| summarize failed_runs = dcount(run_id) by job_name, error_class
'''

var runEvents = '''
traces
| where message startswith "ingest.run "
| extend run_id = coalesce(tostring(customDimensions.run_id), extract(@"\brun_id=(\S+)", 1, message))
| summarize runs = dcount(run_id)
'''

var actions = empty(actionGroupId) ? {} : {
  actionGroups: [
    actionGroupId
  ]
}

resource failedJobs 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: 'ingest-${environment}-failed-jobs'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'ingest ${environment}: a job failed'
    description: 'A job of an ingest run failed or its workbook row was rejected. The alert names the job and the error class; docs/troubleshooting.md says what each class means and docs/runbook.md what to do.'
    severity: failedJobSeverity
    enabled: true
    scopes: [
      appInsights.id
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    autoMitigate: false
    criteria: {
      allOf: [
        {
          query: '${jobEvents}${failedJobsTail}'
          timeAggregation: 'Total'
          metricMeasureColumn: 'failed_runs'
          dimensions: [
            {
              name: 'job_name'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'error_class'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: actions
  }
}

resource noRun 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: 'ingest-${environment}-no-run'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'ingest ${environment}: no run finished in ${maxHoursWithoutRun} hours'
    description: 'No ingest run reached its fan-in step: the timer did not fire, the app is stopped, or a run is stuck or was killed (docs/runbook.md, "A run is stuck or was killed").'
    severity: 1
    enabled: true
    scopes: [
      appInsights.id
    ]
    evaluationFrequency: 'PT1H'
    windowSize: 'PT${maxHoursWithoutRun}H'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: runEvents
          timeAggregation: 'Total'
          metricMeasureColumn: 'runs'
          operator: 'LessThan'
          threshold: 1
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: actions
  }
}

output failedJobsRuleId string = failedJobs.id
output noRunRuleId string = noRun.id
