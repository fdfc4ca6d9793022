// Ingress target port mismatch lab: Log Analytics, a Container Apps environment sending its logs there,
// and one app in the Practical Guide's healthy baseline: external ingress on targetPort 80, transport auto,
// the helloworld sample (it listens on :80), one replica (minReplicas = maxReplicas = 1, so no
// scale-to-zero hides the probe failures) and Single revision mode (the only revision is the one the
// ingress update changes). The trigger moves targetPort to 8081 in place; the recovery moves it back.
@description('Base name for every resource')
param baseName string = 'ingressport'

@description('Location of every resource')
param location string = resourceGroup().location

@description('Ingress target port of the app (the helloworld image listens on 80)')
param targetPort int = 80

var suffix = take(uniqueString(resourceGroup().id, baseName), 6)
var workspaceName = 'log-${baseName}-${suffix}'
var environmentName = 'cae-${baseName}-${suffix}'
var appName = 'ca-${baseName}-${suffix}'

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource environment 'Microsoft.App/managedEnvironments@2025-07-01' = {
  name: environmentName
  location: location
  properties: {
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: workspace.properties.customerId
        sharedKey: workspace.listKeys().primarySharedKey
      }
    }
  }
}

resource app 'Microsoft.App/containerApps@2025-07-01' = {
  name: appName
  location: location
  properties: {
    managedEnvironmentId: environment.id
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: true
        targetPort: targetPort
        transport: 'auto'
      }
    }
    template: {
      containers: [
        {
          name: 'app'
          image: 'mcr.microsoft.com/azuredocs/containerapps-helloworld:latest'
          resources: {
            cpu: json('0.25')
            memory: '0.5Gi'
          }
        }
      ]
      scale: {
        minReplicas: 1
        maxReplicas: 1
      }
    }
  }
}

output containerAppName string = app.name
output containerAppFqdn string = app.properties.configuration.ingress.fqdn
output environmentName string = environment.name
output logAnalyticsWorkspaceName string = workspace.name
output logAnalyticsCustomerId string = workspace.properties.customerId
