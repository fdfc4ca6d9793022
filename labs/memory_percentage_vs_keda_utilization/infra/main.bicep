// Memory percentage vs KEDA utilization lab: Log Analytics, a Container Apps environment, a registry, and an
// app with 0.5 vCPU, 1Gi, at least 2 replicas and a memory scale rule (type=Utilization, value=50), as the
// Practical Guide's (which allowed 20 replicas; 4 here). The image and the memory the workload holds are
// parameters: the trigger and the fix redeploy with new values, each a new revision.
@description('Base name for every resource and the image repository')
param baseName string = 'labmempct'

@description('Location of every resource')
param location string = resourceGroup().location

@description('Ingress target port of the app')
param targetPort int = 8000

@description('Image of the app (the helloworld sample until the workload is built)')
param image string = 'mcr.microsoft.com/azuredocs/containerapps-helloworld:latest'

@description('MiB of resident memory each replica holds')
param targetMb string = '400'

@description('Most replicas the app may scale to')
param maxReplicas int = 4

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
          env: [
            {
              name: 'MODE'
              value: 'rss'
            }
            {
              name: 'TARGET_MB'
              value: targetMb
            }
          ]
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
        }
      ]
      scale: {
        minReplicas: 2
        maxReplicas: maxReplicas
        rules: [
          {
            name: 'mem-rule'
            custom: {
              type: 'memory'
              metadata: {
                type: 'Utilization'
                value: '50'
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
