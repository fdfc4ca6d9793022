// ACR pull-failure lab: a registry without the tag the container app references.
param baseName string = 'labacr'
param location string = resourceGroup().location
param imageTag string = 'does-not-exist'

var suffix = uniqueString(resourceGroup().id)

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${baseName}-${suffix}'
  location: location
  properties: { sku: { name: 'PerGB2018' }, retentionInDays: 30 }
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: 'acr${baseName}${suffix}'
  location: location
  sku: { name: 'Basic' }
  properties: { adminUserEnabled: true }
}

resource environment 'Microsoft.App/managedEnvironments@2025-07-01' = {
  name: 'cae-${baseName}-${suffix}'
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
  name: 'ca-${baseName}-${suffix}'
  location: location
  properties: {
    managedEnvironmentId: environment.id
    configuration: {
      ingress: { external: true, targetPort: 8000 }
      secrets: [ { name: 'acr-password', value: registry.listCredentials().passwords[0].value } ]
      registries: [ { server: registry.properties.loginServer, username: registry.name, passwordSecretRef: 'acr-password' } ]
    }
    template: {
      containers: [ { name: 'app', image: '${registry.properties.loginServer}/labacr:${imageTag}' } ]
      scale: { minReplicas: 1, maxReplicas: 1 }
    }
  }
}

output appName string = app.name
output registryLoginServer string = registry.properties.loginServer
