// Adapted from the Azure Container Apps Practical Guide, labs/cd-reconnect-rbac-conflict/infra (MIT licence):
// the environment, registry and placeholder app of main.bicep, with the AcrPush assignment of
// role-assignment.bicep folded in behind parameters. The CD identity is the app's own system-assigned
// identity (the Guide creates a service principal through Microsoft Graph, which a lab cannot do offline).
targetScope = 'resourceGroup'

@description('Base name for every resource')
param baseName string = 'labcdrbac'

@description('Location of every resource')
param location string = resourceGroup().location

@description('Grant AcrPush on the registry to principalObjectId (what CD setup does)')
param grantAcrPush bool = false

@description('Object id of the principal CD pushes images with')
param principalObjectId string = ''

@description('Empty: the assignment name derived from registry, principal and role; else a salt for a fresh name, as every CD reconnect generates one')
param assignmentSalt string = ''

var suffix = take(uniqueString(resourceGroup().id, baseName), 6)
var workspaceName = 'log-${baseName}-${suffix}'
var registryName = toLower(replace('acr${baseName}${suffix}', '-', ''))
var environmentName = 'cae-${baseName}-${suffix}'
var appName = 'ca-${baseName}-${suffix}'
var acrPushRoleId = '8311e382-0749-4cb8-b61a-304f252e45ec'

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
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    managedEnvironmentId: environment.id
    configuration: {
      ingress: {
        external: true
        targetPort: 80
      }
    }
    template: {
      containers: [
        {
          name: 'app'
          image: 'mcr.microsoft.com/k8se/quickstart:latest'
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

resource acrPush 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (grantAcrPush) {
  scope: registry
  name: empty(assignmentSalt) ? guid(registry.id, principalObjectId, acrPushRoleId) : guid(registry.id, principalObjectId, acrPushRoleId, assignmentSalt)
  properties: {
    principalId: principalObjectId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPushRoleId)
  }
}

output containerAppName string = app.name
output containerRegistryName string = registry.name
output environmentName string = environment.name
output logAnalyticsWorkspaceName string = workspace.name
