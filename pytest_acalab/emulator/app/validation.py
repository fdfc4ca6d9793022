"""Checks a container app request as Azure does, in Azure's codes and words; changes nothing."""

from __future__ import annotations

import copy
import uuid
from typing import TYPE_CHECKING, Any

from pytest_acalab.emulator.app.state import (
    APP_NAME,
    CONSUMPTION_PAIRS,
    REVISION_SUFFIX,
    RFC1123,
    SECRET_NAME,
    ContainerApp,
    Spec,
    bad_request,
    fmt_gib,
    gib,
)
from pytest_acalab.emulator.platform.errors import ArmError
from pytest_acalab.emulator.platform.resource_types import ResourceId

if TYPE_CHECKING:
    from pytest_acalab.emulator.app.service import AppService


class AppValidator:
    def __init__(self, service: AppService) -> None:
        self.svc = service
        self.p = service.p

    def validate_app(self, rid: ResourceId, body: dict[str, Any], current: ContainerApp | None) -> Spec:
        """Check a full (PUT, or PATCH merged) body; raises ArmError in Azure's codes, changes nothing."""
        name = rid.name
        if not APP_NAME.match(name) or "--" in name:
            raise bad_request("ContainerAppInvalidName",
                              f"Invalid ContainerApp name '{name}'. A name must consist of lower case alphanumeric "
                              "characters or '-', start with an alphabetic character, and end with an alphanumeric "
                              "character and cannot have '--'. The length must be between 2 and 32 characters "
                              "inclusive.")
        location = body.get("location") or (current.location if current else None)
        if not location:
            raise bad_request("LocationRequired", "The location property is required for this definition.")
        props = body.get("properties") or {}
        env_id = props.get("environmentId") or props.get("managedEnvironmentId")
        if not env_id:
            # Real code and message: microsoft/azure-container-apps#194 (ARM validation details).
            raise bad_request("InvalidManagedEnvironmentId", "Invalid ManagedEnvironmentId value ''.")
        env = self.svc.env_by_id(str(env_id))
        if env is None:
            # The code is seen in many real failures (e.g. Azure/container-apps-deploy-action#84); the
            # message and status are not sourced.
            raise ArmError(404, "ManagedEnvironmentNotFound", f"The environment '{env_id}' was not found.")
        if env.provisioning_state != "Succeeded":
            raise bad_request("ManagedEnvironmentNotProvisioned",
                              f"The environment '{env.id}' has not been provisioned successfully.")
        if current is not None and current.env is not env:
            raise bad_request("ContainerAppEnvironmentCannotBeChanged",
                              f"Cannot change the environment of container app '{name}'.")
        config_in = props.get("configuration") or {}
        secrets_map = self._validate_secrets(config_in.get("secrets"), current)
        template = self._validate_template(name, props.get("template") or {})
        self._check_env_secret_refs(template, secrets_map)
        profile = props.get("workloadProfileName") or "Consumption"
        if profile == "Consumption":
            self._check_consumption_total(template)
        identity = self._identity(body.get("identity"), current)
        self.resolve_key_vault_secrets(secrets_map, identity)
        configuration = self._configuration(config_in, secrets_map, identity)
        return Spec(str(location), body.get("tags", current.tags if current else None), env, identity,
                    configuration, template, secrets_map, profile)

    def _validate_secrets(self, entries: Any, current: ContainerApp | None) -> dict[str, dict[str, Any]]:
        if entries is None:
            return dict(current.secrets) if current else {}
        out: dict[str, dict[str, Any]] = {}
        for entry in entries or []:
            sname = (entry or {}).get("name")
            if not isinstance(sname, str) or not SECRET_NAME.match(sname):
                raise bad_request("ContainerAppSecretInvalid",
                                  f"Invalid Secret name '{sname}'. A secret name must consist of lower case "
                                  "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
                                  "character.")
            if entry.get("keyVaultUrl") and not entry.get("identity"):
                raise self._secret_invalid(sname)
            if entry.get("value") is None and not entry.get("keyVaultUrl"):
                previous = current.secrets.get(sname) if current else None
                if previous is None:
                    raise self._secret_invalid(sname)
                entry = {**entry, "value": previous.get("value")}
            out[sname] = dict(entry)
            if entry.get("value"):
                self.p.remember_secret(str(entry["value"]))
        return out

    @staticmethod
    def _secret_invalid(name: str) -> ArmError:
        # Azure's code and sentence (pulumi/pulumi-azure-native#2673).
        return bad_request("ContainerAppSecretInvalid", f"Invalid Request: Container app secret(s) with name(s) "
                                                        f"'{name}' are invalid: value or keyVaultUrl and identity "
                                                        "should be provided.")

    def resolve_key_vault_secrets(self, secrets_map: dict[str, dict[str, Any]], identity: dict[str, Any]) -> None:
        """Fetch every ``keyVaultUrl`` secret with its identity, as Azure does when it accepts the app; a secret
        the identity cannot read fails the request with Azure's words (microsoft/azure-container-apps#1174, #930)."""
        for name, entry in secrets_map.items():
            url = entry.get("keyVaultUrl")
            if not url:
                continue
            ident = str(entry.get("identity") or "")
            value = self.key_vault_value(url, ident, identity)
            if value is None:
                raise bad_request("InvalidParameterValueInContainerTemplate",
                                  "The following field(s) are either invalid or missing. Field 'configuration.secrets' "
                                  f"is invalid with details: 'Invalid value: \"{name}\": Unable to get value using "
                                  f"Managed identity {ident} for secret {name}. Error: unable to fetch secret "
                                  f"'{name}' using Managed identity '{ident}'';.")
            entry["value"] = value
            self.p.remember_secret(value)

    def key_vault_value(self, url: str, ident: str, identity: dict[str, Any]) -> str | None:
        """The secret ``url`` names, read with the app's identity ``ident`` (``system`` or a user-assigned id)."""
        if ident.lower() == "system":
            principal = identity.get("principalId")
        else:
            users = {k.lower(): v for k, v in (identity.get("userAssignedIdentities") or {}).items()}
            principal = (users.get(ident.lower()) or {}).get("principalId")
        lookup = self.p.services.secrets
        if not principal or lookup is None:
            return None
        value, _why = lookup(str(url), str(principal))
        return value

    @staticmethod
    def _check_env_secret_refs(template: dict[str, Any], secrets_map: dict[str, dict[str, Any]]) -> None:
        """An env var's secretRef must name a secret of the app."""
        for c in template["containers"]:
            for var in c.get("env") or []:
                ref = (var or {}).get("secretRef")
                if ref and ref not in secrets_map:
                    # Real message, e.g. "SecretRef 'vector-...' defined for container 'vector' not found."
                    # (pulumi/pulumi-azure-native#1715, and a pasted `az containerapp update` error).
                    raise bad_request("ContainerAppSecretRefNotFound",
                                      f"SecretRef '{ref}' defined for container '{c['name']}' not found.")

    def _validate_template(self, app: str, template: dict[str, Any]) -> dict[str, Any]:
        containers = template.get("containers")
        if not containers:
            raise bad_request("ContainerAppInvalidSchema",
                              "Invalid request body for container app. Does not conform to Container App schema: "
                              "'template.containers' must contain at least one container.")
        seen: set[str] = set()
        out_containers = []
        for c in containers:
            cname = (c or {}).get("name")
            if not cname:
                raise bad_request("InvalidParameterValueInContainerTemplate",
                                  "The following field(s) are either invalid or missing. Field "
                                  "'template.containers.name' is invalid with details: 'Required value';.")
            if not RFC1123.match(cname) or len(cname) > 63:
                raise bad_request("InvalidParameterValueInContainerTemplate",
                                  f"The following field(s) are either invalid or missing. Invalid value: \"{cname}\": "
                                  "Invalid Name: Per RFC 1123 name must consist of lower case alphanumeric characters "
                                  "or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
                                  "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?'): "
                                  "template.containers.")
            if cname in seen:
                raise bad_request("InvalidParameterValueInContainerTemplate",
                                  f"The following field(s) are either invalid or missing. Field "
                                  f"'template.containers.{cname}.name' is invalid with details: 'Duplicate value';.")
            seen.add(cname)
            if not c.get("image"):
                # Real code and message: Azure-Samples/container-apps-store-api-microservice#27.
                raise bad_request("ContainerAppImageRequired",
                                  f"Container with name '{cname}' must have an 'Image' property specified.")
            res = c.get("resources") or {}
            cpu = res.get("cpu")
            memory = res.get("memory")
            try:
                cpu_v = float(cpu) if cpu is not None else 0.5
                mem_v = gib(memory) if memory is not None else cpu_v * 2
            except ValueError:
                raise bad_request("ContainerAppInvalidResourceTotal", f"Container '{cname}' has invalid "
                                  f"resources: cpu '{cpu}', memory '{memory}'.") from None
            item: dict[str, Any] = {"image": c["image"], "imageType": "ContainerImage", "name": cname}
            for key in ("command", "args", "env", "volumeMounts"):
                if c.get(key) is not None:
                    item[key] = copy.deepcopy(c[key])
            item["resources"] = {"cpu": cpu_v, "memory": fmt_gib(mem_v), "ephemeralStorage": fmt_gib(cpu_v * 4)}
            item["probes"] = copy.deepcopy(c.get("probes") or [])
            out_containers.append(item)
        scale = template.get("scale") or {}
        min_r, max_r = scale.get("minReplicas"), scale.get("maxReplicas")
        min_v = 0 if min_r is None else min_r
        max_v = 10 if max_r is None else max_r
        if (not isinstance(min_v, int) or not isinstance(max_v, int) or min_v < 0 or max_v < 1 or max_v < min_v
                or max_v > 1000):
            # Real code and message shape: MicrosoftDocs/azure-docs#89742 (then with a limit of 10, now 1000).
            raise bad_request("ContainerAppInvalidScaleSpec",
                              f"The scale options provided for Container App '{app}' is incorrect. The values must "
                              "be positive, maxReplicas must not be less than minReplicas. The maxReplicas must not be "
                              "bigger than 1000.")
        suffix = template.get("revisionSuffix") or None
        if suffix is not None and (not REVISION_SUFFIX.match(suffix) or len(app) + 2 + len(suffix) > 54):
            raise bad_request("ContainerAppInvalidRevisionName",
                              f"Revision name has an invalid value '{app}--{suffix}'. A revision name must consist "
                              "of lower case alphanumeric characters or '-', start with an alphabetic character, and "
                              "end with an alphanumeric character. The length of the revision name must not be more "
                              "than a combined 54 characters with the container app name.")
        return {
            "revisionSuffix": suffix, "terminationGracePeriodSeconds": template.get("terminationGracePeriodSeconds"),
            "containers": out_containers, "initContainers": template.get("initContainers"),
            "scale": {"minReplicas": min_r, "maxReplicas": max_v, "cooldownPeriod": scale.get("cooldownPeriod", 300),
                      "pollingInterval": scale.get("pollingInterval", 30), "rules": scale.get("rules")},
            "volumes": template.get("volumes"), "serviceBinds": template.get("serviceBinds"),
        }

    @staticmethod
    def _check_consumption_total(template: dict[str, Any]) -> None:
        cpu = sum(float(c["resources"]["cpu"]) for c in template["containers"])
        mem = sum(gib(c["resources"]["memory"]) for c in template["containers"])
        if not any(abs(cpu - c) < 1e-9 and abs(mem - m) < 1e-9 for c, m in CONSUMPTION_PAIRS):
            pairs = "; ".join(f"[cpu: {c}, memory: {m:.1f}Gi]" for c, m in CONSUMPTION_PAIRS)
            raise bad_request("ContainerAppInvalidResourceTotal",
                              f"The total requested CPU and memory resources for this application (CPU: {cpu:g}, "
                              f"memory: {mem:g}) is invalid. Total CPU and memory for all containers defined in a "
                              f"Container App must add up to one of the following CPU - Memory combinations: {pairs}")

    def _identity(self, identity: Any, current: ContainerApp | None) -> dict[str, Any]:
        if identity is None:
            return copy.deepcopy(current.identity) if current else {"type": "None"}
        kind = str(identity.get("type") or "None")
        kinds = {k.strip().lower() for k in kind.split(",")}
        if not kinds <= {"none", "systemassigned", "userassigned"}:
            raise bad_request("InvalidIdentityType", f"The identity type '{kind}' is not supported.")
        out: dict[str, Any] = {"type": kind}
        previous = current.identity if current else {}
        if "systemassigned" in kinds:
            out["principalId"] = previous.get("principalId") or str(uuid.uuid4())
            out["tenantId"] = self.p.store.tenant_id
        if "userassigned" in kinds:
            ua = identity.get("userAssignedIdentities") or {}
            if not ua:
                raise bad_request("InvalidIdentityType",
                                  "The 'userAssignedIdentities' property is required for identity type 'UserAssigned'.")
            out["userAssignedIdentities"] = {uid: self._user_identity(uid) for uid in ua}
        return out

    def _user_identity(self, uid: str) -> dict[str, str]:
        res = self.p.store.get(uid)
        props = (res.body.get("properties") or {}) if res is not None else {}
        seed = uid.lower()
        return {"principalId": props.get("principalId") or str(uuid.uuid5(uuid.NAMESPACE_URL, "p:" + seed)),
                "clientId": props.get("clientId") or str(uuid.uuid5(uuid.NAMESPACE_URL, "c:" + seed))}

    @staticmethod
    def _configuration(cfg: dict[str, Any], secrets_map: dict[str, dict[str, Any]],
                       identity: dict[str, Any]) -> dict[str, Any]:
        mode = str(cfg.get("activeRevisionsMode") or "Single")
        if mode.lower() not in ("single", "multiple"):
            raise bad_request("ContainerAppInvalidActiveRevisionsMode",
                              f"Invalid value '{mode}' for 'activeRevisionsMode'. Allowed values are 'Single' and "
                              "'Multiple'.")
        ingress = cfg.get("ingress")
        ingress_out = None
        if ingress:
            port = ingress.get("targetPort")
            if port is not None and (not isinstance(port, int) or not 0 < port < 65536):
                raise bad_request("ContainerAppInvalidIngressTargetPort",
                                  f"Invalid value '{port}' for 'ingress.targetPort'. It must be between 1 and 65535.")
            transport = str(ingress.get("transport") or "auto")
            ingress_out = {
                "fqdn": None, "external": bool(ingress.get("external", False)), "targetPort": port,
                "exposedPort": ingress.get("exposedPort") or 0, "transport": transport[:1].upper() + transport[1:],
                "traffic": copy.deepcopy(ingress.get("traffic")), "customDomains": ingress.get("customDomains"),
                "allowInsecure": bool(ingress.get("allowInsecure", False)),
                "ipSecurityRestrictions": ingress.get("ipSecurityRestrictions"), "corsPolicy": None,
                "clientCertificateMode": None, "stickySessions": None, "additionalPortMappings": None,
                "targetPortHttpScheme": None,
            }
        registries = []
        for reg in cfg.get("registries") or []:
            server = str((reg or {}).get("server") or "")
            if not server:
                raise bad_request("ContainerAppInvalidRegistryServerValue",
                                  "Property 'registries.server' has an invalid value ''.")
            ref = reg.get("passwordSecretRef")
            if reg.get("username") and not reg.get("identity"):
                if not ref or ref not in secrets_map:
                    # Recorded (test_container_acr): code and message
                    raise bad_request("ContainerAppRegistriesPasswordSecretRefNotFound",
                                      f"PasswordSecretRef '{ref or ''}' defined for registry server '{server}' "
                                      "not found.")
            ident = reg.get("identity")
            if ident and str(ident).lower() != "system":
                known = {k.lower() for k in identity.get("userAssignedIdentities", {})}
                if str(ident).lower() not in known:
                    raise bad_request("InvalidParameterValueInContainerTemplate",
                                      f"Registry '{server}' uses identity '{ident}', which is not assigned to the "
                                      "container app.")
            if ident and str(ident).lower() == "system" and "principalId" not in identity:
                raise bad_request("InvalidParameterValueInContainerTemplate",
                                  f"Registry '{server}' uses the system-assigned identity, which is not enabled.")
            registries.append({"server": server, "username": reg.get("username") or "",
                               "passwordSecretRef": ref or "", "identity": ident or ""})
        return {
            "secrets": [{"name": n, **({"keyVaultUrl": s["keyVaultUrl"]} if s.get("keyVaultUrl") else {}),
                         **({"identity": s["identity"]} if s.get("identity") else {})}
                        for n, s in secrets_map.items()] or None,
            "activeRevisionsMode": mode.capitalize(), "targetLabel": "", "revisionTransitionThreshold": None,
            "ingress": ingress_out, "registries": registries or None, "identitySettings": [], "dapr": None,
            "runtime": None, "maxInactiveRevisions": cfg.get("maxInactiveRevisions", 100), "service": None,
        }

