"""Small labs written into a pytester folder: a registry, one image tag, one import as the recovery."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

TEMPLATE = {
    "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
    "contentVersion": "1.0.0.0",
    "parameters": {"baseName": {"type": "string", "defaultValue": "tiny"}},
    "variables": {"registryName": "[format('acr{0}{1}', parameters('baseName'), "
                                  "take(uniqueString(resourceGroup().id), 6))]"},
    "resources": [{
        "type": "Microsoft.ContainerRegistry/registries", "apiVersion": "2023-07-01",
        "name": "[variables('registryName')]", "location": "[resourceGroup().location]",
        "sku": {"name": "Basic"}, "properties": {"adminUserEnabled": True},
    }],
    "outputs": {"registryName": {"type": "string", "value": "[variables('registryName')]"}},
}

HOLDS = """\
    - key: image-tag
      variable: Image tag
      control: quickstart:latest present
      experimental: not imported yet
      failing:
        probe: image_tag
        with: {registry: registry, repository: quickstart, tag: latest}
        expect: {equals: absent}
      recovered:
        probe: image_tag
        with: {registry: registry, repository: quickstart, tag: latest}
        expect: {equals: present}
        within: 5m
    - key: import-result
      variable: Import
      control: Succeeded
      experimental: not run
      failing:
        probe: image_tag
        with: {registry: registry, repository: quickstart, tag: other}
        expect: {equals: absent}
      recovered:
        action: import
        expect: {equals: Succeeded}
"""


def write_lab(root: Path, name: str, rows: str = HOLDS, extra: str = "", expect: str = "Succeeded") -> Path:
    folder = root / "labs" / name
    (folder / "infra").mkdir(parents=True)
    (folder / "infra" / "main.json").write_text(json.dumps(TEMPLATE, indent=2))
    (folder / "lab.yaml").write_text(textwrap.dedent(f"""\
        title: Tiny lab {name}
        metadata: {{difficulty: Beginner, duration: 1 min, tier: Consumption, failure_mode: none}}
        infra:
          template: infra/main.json
          parameters: {{baseName: tiny}}
          expect: {expect}
          resources:
            registry: Microsoft.ContainerRegistry/registries
        hypothesis:
          statement: IF the image is imported THEN the tag exists
          rows:
        """) + rows + textwrap.dedent("""\
        trigger: deployment
        recovery:
          - id: import
            action: acr_import
            with: {registry: registry, source: mcr.microsoft.com/k8se/quickstart:latest, image: 'quickstart:latest'}
        experiment_log:
          - {step: 1, action: Deploy the registry, expected: Succeeded, from: deploy}
          - {step: 2, action: Import the image, expected: Succeeded, from: import}
          - {step: 3, action: Check the tag, expected: present, from: 'image-tag[recovered]'}
        """) + extra)
    return folder
