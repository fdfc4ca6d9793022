// Scale rule mismatch lab: Log Analytics, a Container Apps environment, a registry, and an app with
// 0.5 vCPU and 1Gi of memory and an HTTP scale rule (the Practical Guide's sizing). The image and the rule's
// concurrentRequests / maxReplicas are parameters: the trigger and the fix redeploy with new values, each a
// new revision. The app carries the registry's admin credentials from the start.
@description('Base name for every resource and the image repository')
param baseName string = 'labscale'

@description('Location of every resource')
param location string = resourceGroup().location

@description('Ingress target port of the app')
param targetPort int = 8000

@description('Image of the app (the helloworld sample until the workload is built)')
param image string = 'mcr.microsoft.com/azuredocs/containerapps-helloworld:latest'

@description('HTTP scale rule threshold: concurrent requests per replica')
param concurrentRequests string = '500'

@description('Most replicas the app may scale to')
param maxReplicas int = 2

var suffix = take(uniqueString(resourceGroup().id, baseName), 6)
var workspaceName = 'log-${baseName}-${suffix}'
var registryName = 'acr${baseName}${suffix}'
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

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: registryName
  location: location
  sku: {
    name: 'Basic'
  }
  properties: {
    adminUserEnabled: true
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
      secrets: [
        {
          name: 'acr-password'
          value: registry.listCredentials().passwords[0].value
        }
      ]
      registries: [
        {
          server: registry.properties.loginServer
          username: registry.listCredentials().username
          passwordSecretRef: 'acr-password'
        }
      ]
    }
    template: {
      containers: [
        {
          name: 'app'
          image: image
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
        }
      ]
      scale: {
        minReplicas: 1
        maxReplicas: maxReplicas
        rules: [
          {
            name: 'http-rule'
            http: {
              metadata: {
                concurrentRequests: concurrentRequests
              }
            }
          }
        ]
      }
    }
  }
}

output containerAppName string = app.name
output containerRegistryName string = registry.name
output containerRegistryLoginServer string = registry.properties.loginServer
output environmentName string = environment.name
output logAnalyticsWorkspaceName string = workspace.name
output containerAppUrl string = 'https://${app.properties.configuration.ingress.fqdn}'
