// Image size startup delay lab: Log Analytics, a Container Apps environment sending its logs there, and one
// app that starts on the large public image python:3.11 (about 408 MB) running `python -m http.server 8080`
// behind external ingress on 8080, one replica. The trigger swaps in the small helloworld image with the
// same command (the image has no Python: a small image alone is not a fix); the recovery moves to
// python:3.11-alpine (about 20 MB), the same workload on the same port.
@description('Base name for every resource')
param baseName string = 'imgsize'

@description('Location of every resource')
param location string = resourceGroup().location

@description('The large image the app starts on')
param largeImage string = 'python:3.11'

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
      ingress: {
        external: true
        targetPort: 8080
      }
    }
    template: {
      containers: [
        {
          name: 'app'
          image: largeImage
          command: [
            'python'
            '-m'
            'http.server'
            '8080'
          ]
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
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
output largeImage string = largeImage
