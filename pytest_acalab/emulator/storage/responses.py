"""Microsoft.Storage over HTTP: storageAccounts (create, get, list, delete, listKeys) and file shares.

Recorded (containerapp CLI recording test_containerapp_env_logs_e2e.yaml, api-version 2022-09-01): a new
account answers ``202`` with no body and ``Location: .../providers/Microsoft.Storage/locations/{l}/
asyncoperations/{id}?monitor=true&api-version=...``; that URL answers the account (200) once created.
Not recorded, guessed from the REST reference: 202 (no body) while pending, an update answering 200 with
the body, DELETE 200, share PUT 201 / 200.
"""

from __future__ import annotations

from typing import Any

from pytest_acalab.emulator.platform.core import Platform
from pytest_acalab.emulator.platform.errors import ArmError
from pytest_acalab.emulator.platform.http import Request, Response
from pytest_acalab.emulator.platform.lro import Operation
from pytest_acalab.emulator.platform.resource_types import Ctx, ResourceId, ResourceType
from pytest_acalab.emulator.platform.store import Resource

from .models import ACCOUNT_TYPE, StorageAccount, StorageService

NAMESPACE = "Microsoft.Storage"


class StorageAccounts(ResourceType):
    namespace = NAMESPACE
    type_name = "storageAccounts"
    actions = {"listKeys": "list_keys"}

    def __init__(self, state: StorageService) -> None:
        self.state = state

    def account(self, ctx: Ctx, rid: ResourceId) -> StorageAccount:
        account = self.state.accounts.get(rid.id.lower())
        if account is None:
            raise self.not_found(rid)
        return account

    def _publish(self, ctx: Ctx, account: StorageAccount) -> dict[str, Any]:
        body = account.body()
        res = ctx.store.get(account.id)
        if res is not None:
            res.body = body
        return body

    def get(self, ctx: Ctx, rid: ResourceId) -> Response:
        return Response.json(200, self._publish(ctx, self.account(ctx, rid)))

    def list(self, ctx: Ctx, parent: ResourceId | None, resource_group: str | None) -> list[dict[str, Any]]:
        items = ctx.store.of_type(ACCOUNT_TYPE, resource_group)
        return [self._publish(ctx, r.model) for r in sorted(items, key=lambda r: r.id.lower())]

    def put(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        with ctx.platform.lock:
            account, created = self.state.create(rid.id, rid.name, body, ctx.clock.now())
            for key in account.keys.values():
                ctx.platform.remember_secret(key)
            if not created:
                return Response.json(200, self._publish(ctx, account))
            ctx.store.add(Resource(account.id, account.name, ACCOUNT_TYPE, rid.resource_group, account.location,
                                   account.body(), account, account.created))
            sub = ctx.store.subscription_id
            loc = account.location.lower().replace(" ", "")
            version = ctx.api_version

            def finish() -> None:
                account.provisioning_state = "Succeeded"
                self._publish(ctx, account)

            op = ctx.platform.operations.start(
                lambda op_id: (f"{ctx.platform.base_url}/subscriptions/{sub}/providers/Microsoft.Storage/locations/"
                               f"{loc}/asyncoperations/{op_id}?monitor=true&api-version={version}"),
                ctx.clock.duration("storage.create"), finish,
                final=lambda _op: Response.json(200, self._publish(ctx, account)))
            op.extra["location_style"] = True
            return Response.empty(202, ctx.platform.operations.location_headers(op))

    def delete(self, ctx: Ctx, rid: ResourceId) -> Response:
        with ctx.platform.lock:
            account = self.state.accounts.pop(rid.id.lower(), None)
            if account is None:
                return Response.empty(204)
            ctx.store.remove(account.id)
            return Response.empty(200)

    def remove(self, ctx: Ctx, rid: ResourceId) -> None:
        self.state.accounts.pop(rid.id.lower(), None)
        ctx.store.remove(rid.id)

    def list_keys(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        return Response.json(200, self.account(ctx, rid).keys_body())


class FileServices(ResourceType):
    """``storageAccounts/{a}/fileServices/default``: the one file service of an account."""

    namespace = NAMESPACE
    type_name = "storageAccounts/fileServices"

    def __init__(self, accounts: StorageAccounts) -> None:
        self.accounts = accounts

    def lookup(self, ctx: Ctx, rid: ResourceId) -> Any:
        if rid.name != "default":
            raise ArmError(400, "InvalidResourceName", f"The file service name '{rid.name}' must be 'default'.")
        return self.accounts.account(ctx, rid.parent())

    def get(self, ctx: Ctx, rid: ResourceId) -> Response:
        account = self.lookup(ctx, rid)
        return Response.json(200, {"id": f"{account.id}/fileServices/default", "name": "default",
                                   "type": "Microsoft.Storage/storageAccounts/fileServices",
                                   "properties": {"cors": {"corsRules": []},
                                                  "shareDeleteRetentionPolicy": {"enabled": True, "days": 7}}})


class FileShares(ResourceType):
    namespace = NAMESPACE
    type_name = "storageAccounts/fileServices/shares"

    def __init__(self, accounts: StorageAccounts) -> None:
        self.accounts = accounts

    def _account(self, ctx: Ctx, rid: ResourceId) -> StorageAccount:
        if rid.names[1] != "default":
            raise ArmError(400, "InvalidResourceName", f"The file service name '{rid.names[1]}' must be 'default'.")
        return self.accounts.account(ctx, ResourceId(rid.subscription, rid.resource_group, NAMESPACE,
                                                     rid.types[:1], rid.names[:1]))

    def lookup(self, ctx: Ctx, rid: ResourceId) -> Any:
        return self._account(ctx, rid)

    def get(self, ctx: Ctx, rid: ResourceId) -> Response:
        account = self._account(ctx, rid)
        share = account.shares.get(rid.name)
        if share is None:
            raise ArmError(404, "ShareNotFound", "The specified share does not exist.")
        return Response.json(200, account.share_body(share))

    def put(self, ctx: Ctx, rid: ResourceId, body: Any) -> Response:
        with ctx.platform.lock:
            account = self._account(ctx, rid)
            share, created = self.accounts.state.put_share(account, rid.name, body, ctx.clock.now())
            return Response.json(201 if created else 200, account.share_body(share))

    def delete(self, ctx: Ctx, rid: ResourceId) -> Response:
        with ctx.platform.lock:
            account = self._account(ctx, rid)
            return Response.empty(200 if account.shares.pop(rid.name, None) is not None else 204)

    def list(self, ctx: Ctx, parent: ResourceId | None, resource_group: str | None) -> list[dict[str, Any]]:
        if parent is None:
            return []
        account = self.accounts.account(ctx, ResourceId(parent.subscription, parent.resource_group, NAMESPACE,
                                                        parent.types[:1], parent.names[:1]))
        return [account.share_body(s) for _, s in sorted(account.shares.items())]


def register(platform: Platform) -> StorageService:
    state = StorageService()
    accounts = StorageAccounts(state)
    platform.register_type(accounts)
    platform.register_type(FileServices(accounts))
    platform.register_type(FileShares(accounts))

    def operation(req: Request, sub: str, loc: str, op_id: str) -> Response:
        op: Operation | None = platform.operations.get(op_id)
        if op is None:
            raise ArmError(404, "ResourceNotFound", f"The operation '{op_id}' was not found.")
        return platform.operations.location_response(op)

    platform.route("GET", "/subscriptions/{sub}/providers/Microsoft.Storage/locations/{loc}/asyncoperations/{op_id}",
                   operation)
    platform.services.extra["storage"] = state
    return state
