// Adapted from the Azure Container Apps Practical Guide, labs/diagnostic-settings-missing/infra (MIT licence):
// a Container Apps environment created WITHOUT appLogsConfiguration (its destination stays null), a workspace
// beside it, and one placeholder app.
targetScope = 'resourceGroup'

@description('Base name for every resource')
param baseName string = 'diagsetting'

@description('Location of every resource')
param location string = resourceGroup().location

@description('Public placeholder image: the lab measures where logs go, not what the app does')
param placeholderImage string = 'mcr.microsoft.com/azuredocs/containerapps-helloworld:latest'

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
  properties: {}
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
        targetPort: 80
      }
    }
    template: {
      containers: [
        {
          name: 'app'
          image: placeholderImage
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

output logAnalyticsWorkspaceName string = workspace.name
output logAnalyticsCustomerId string = workspace.properties.customerId
output environmentName string = environment.name
output containerAppName string = app.name
