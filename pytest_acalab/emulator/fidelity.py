"""How faithfully the emulator answers what Azure answered: replay recorded cassettes, score each answer.

A cassette is a vcrpy recording of an Azure CLI scenario test against real Azure (the containerapp and
log-analytics extensions' ``tests/latest/recordings/*.yaml``). ``replay`` sends every interaction of
one cassette, in order, to a fresh emulator and compares the emulator's answer with Azure's:

- **status code**;
- **long-running-operation headers**: ``Azure-AsyncOperation`` and ``Location`` present exactly when
  Azure sent them, with the same URL shape (``.../locations/{l}/containerappOperationStatuses/{id}``);
- **body keys**: the keys of a resource and of its direct members (``properties``, ``sku``,
  ``systemData``; a list's ``value[0]`` counts as a resource), both ways: a key Azure sends that the
  emulator lacks, and a key the emulator sends that Azure did not. Deeper differences are reported as
  notes, not scored. Event/log streams (JSON lines) compare the keys of their first line; other bodies
  compare presence;
- **error code and wording**: an error answer's ``error.code`` and ``error.message`` (names mapped).

Azure itself changed between recordings of the same api-version (a key present in June 2023 answers
and absent in May 2023 ones): such keys, found by comparing alike answers across cassettes, are not
scored, and the report lists them.

What the recorded test made *outside* its cassette is created first (resource groups; environments the
cassette only reads). Names Azure minted (revision and replica names, run ids, customer ids, keys,
upload URLs, tokens) are learned from the pairs of answers and mapped onto the emulator's in every later
request. Polling is not scored: GETs of operation status/result URLs (the replayer waits for the
emulator's own operation to end instead), and the repeated HEAD/ranged GETs ``az acr build`` makes while
tailing a run log (the first of each is scored).

The emulator's replicas run for real (``emulator/runtime``): ``mcr.microsoft.com/k8se/quickstart`` is its
built-in stand-in listening on 80, images built in a cassette come from the emulator's own registry
(``ImageResolver.fetch``). A process's start-up and probes take real time, and a recording caught Azure
at one moment of them; so a GET of an app, revision or replica whose workload state (running and health
state, details present, containers ready) differs from the recorded one is asked again until it shows
that state, for at most ``settle_timeout`` seconds; the report lists states never reached.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import yaml

ARM_HOSTS = ("management.azure.com",)
LOGS_HOSTS = ("api.loganalytics.io",)
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
LRO_HEADERS = ("azure-asyncoperation", "location")
_POLL_SEGMENT = re.compile(r"(operationstatuses|operationresults|asyncoperations)$", re.IGNORECASE)

QUIET_POLLS = 20
"""Polls (of ``settle_poll``) with nothing starting after which a recorded workload state is given up."""
REPLAY_WORKERS = 4
"""Cassettes replayed at once (each on an emulator of its own)."""
# Response keys whose values Azure minted: learned as recorded → emulator, applied to later requests.
LEARNED_KEYS = {
    "name", "latestRevisionName", "latestReadyRevisionName", "customerId", "primarySharedKey",
    "secondarySharedKey", "value", "runId", "uploadUrl", "relativePath", "logLink", "defaultDomain", "fqdn",
    "latestRevisionFqdn", "eventStreamEndpoint", "logStreamEndpoint", "token", "loginServer", "username",
    "id", "execEndpoint",
}


@dataclass
class Interaction:
    index: int
    method: str
    uri: str
    headers: dict[str, str]
    body: str
    status: int
    response_headers: dict[str, str]
    response_body: str
    binary_body: bytes | None = None
    """The request body as recorded when it is not text (``az acr build``'s source archive)."""

    @property
    def host(self) -> str:
        return urlsplit(self.uri).netloc.lower()

    @property
    def path(self) -> str:
        return urlsplit(self.uri).path


@dataclass
class Verdict:
    index: int
    method: str
    uri: str
    status: int
    problems: list[str]
    notes: list[str] = field(default_factory=list)
    unsettled: str | None = None
    """The recorded workload state, when the emulator's did not reach it within the settle time."""

    @property
    def matched(self) -> bool:
        return not self.problems


@dataclass
class CassetteResult:
    name: str
    verdicts: list[Verdict] = field(default_factory=list)
    polling: int = 0

    @property
    def scored(self) -> int:
        return len(self.verdicts)

    @property
    def matched(self) -> int:
        return sum(v.matched for v in self.verdicts)

    @property
    def rate(self) -> float:
        return self.matched / self.scored if self.scored else 1.0

    def mismatches(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.matched]


def _flat(headers: dict[str, Any] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in (headers or {}).items():
        out[k.lower()] = ", ".join(str(x) for x in v) if isinstance(v, list) else str(v)
    return out


def _text(body: Any) -> str:
    if isinstance(body, dict):
        body = body.get("string")
    if body is None:
        return ""
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")
    return str(body)


def load(path: Path) -> list[Interaction]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"]
    return [Interaction(n, i["request"]["method"].upper(), i["request"]["uri"], _flat(i["request"].get("headers")),
                        _text(i["request"].get("body")), int(i["response"]["status"]["code"]),
                        _flat(i["response"].get("headers")), _text(i["response"].get("body")),
                        _binary(i["request"].get("body")))
            for n, i in enumerate(raw)]


def _binary(body: Any) -> bytes | None:
    if isinstance(body, dict):
        body = body.get("string")
    if isinstance(body, bytes):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return body
    return None


def is_polling(item: Interaction, seen_blob_reads: set[tuple[str, str]]) -> bool:
    """Operation-status polls, and the repeated reads of a run log being tailed."""
    parts = [p for p in item.path.split("/") if p]
    if item.method == "GET" and len(parts) >= 2 and _POLL_SEGMENT.search(parts[-2]):
        return True
    if ".blob.core.windows.net" in item.host and item.method in ("HEAD", "GET") and "/logs/" in item.path:
        key = (item.method, item.path)
        if key in seen_blob_reads:
            return True
        seen_blob_reads.add(key)
    return False


# comparison ---------------------------------------------------------------------------------------
def _json(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return _Lines(text)


class _Lines:
    """A body of JSON lines (event and log streams), or text that is no JSON at all."""

    def __init__(self, text: str) -> None:
        self.first: Any = None
        self.text = text
        for line in text.splitlines():
            if line.strip():
                try:
                    self.first = json.loads(line)
                except ValueError:
                    self.first = None
                break


SCORED_DEPTH = 2
"""Object levels whose keys are scored: a resource's own keys and those of its direct members (``properties``,
``sku``, ``systemData``...); a list envelope's ``value[0]`` counts as a resource. Deeper differences are
listed as notes."""


def key_differences(recorded: Any, got: Any, where: str = "", depth: int = 1) -> list[tuple[int, str]]:
    """(depth, key) of JSON objects Azure sent and the emulator did not (``-``) or the other way round (``+``)."""
    out: list[tuple[int, str]] = []
    if isinstance(recorded, dict) and isinstance(got, dict):
        if depth == 1 and set(recorded) == {"value"} | ({"nextLink"} & set(recorded)) and \
                isinstance(recorded.get("value"), list) and isinstance(got.get("value"), list):
            if recorded["value"] and got["value"]:
                return key_differences(recorded["value"][0], got["value"][0], "value[0].", 1)
            return out
        for k in sorted(set(recorded) - set(got)):
            out.append((depth, f"-{where}{k}"))
        for k in sorted(set(got) - set(recorded)):
            out.append((depth, f"+{where}{k}"))
        for k in sorted(set(recorded) & set(got)):
            out.extend(key_differences(recorded[k], got[k], f"{where}{k}.", depth + 1))
    elif isinstance(recorded, list) and isinstance(got, list) and recorded and got:
        out.extend(key_differences(recorded[0], got[0], f"{where}[0].", depth))
    return out


def _url_shape(url: str) -> str:
    """``.../locations/eastus/containerappOperationStatuses/{id}`` → ``locations/*/containerappoperationstatuses``."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    if len(parts) < 4:
        return "/".join(parts).lower()
    return f"{parts[-4]}/*/{parts[-2]}".lower()


def group_of(item: Interaction) -> tuple[str, str, str, int, str]:
    """Answers that should look alike: resource type, api-version, method, status, provisioning state."""
    split = urlsplit(item.uri)
    parts = [p for p in split.path.split("/") if p]
    types = [parts[i] for i in range(6, len(parts), 2)] if len(parts) > 6 and parts[4].lower() == "providers" \
        else parts[-1:]
    version = dict(q.split("=", 1) for q in split.query.split("&") if "=" in q).get("api-version", "")
    state = ""
    body = _json(item.response_body)
    if isinstance(body, dict):
        state = str((body.get("properties") or {}).get("provisioningState") or "") \
            if isinstance(body.get("properties"), dict) else ""
    kind = (parts[5] if len(parts) > 5 else "") + "/" + "/".join(types) + ("[list]" if len(parts) % 2 else "")
    return kind.lower(), version, item.method, item.status, state


def _key_paths(body: Any, where: str = "", depth: int = 1) -> set[str]:
    out: set[str] = set()
    if isinstance(body, dict):
        if depth == 1 and set(body) <= {"value", "nextLink"} and isinstance(body.get("value"), list):
            return _key_paths(body["value"][0], "value[0].", 1) if body["value"] else out
        for k, v in body.items():
            out.add(f"{where}{k}")
            if depth < SCORED_DEPTH:
                out |= _key_paths(v, f"{where}{k}.", depth + 1)
    elif isinstance(body, list) and body:
        out |= _key_paths(body[0], f"{where}[0].", depth)
    return out


def drift(corpus: dict[str, list[Interaction]]) -> dict[tuple[str, str, str, int, str], set[str]]:
    """Keys Azure itself sent in some recordings and not in others for alike answers (same type,
    api-version, method, status and provisioning state, different cassettes, so different days):
    Azure changed while the api-version stayed. Such keys are not scored; the report lists them."""
    seen: dict[tuple[str, str, str, int, str], dict[str, set[str]]] = {}
    for name, items in corpus.items():
        for item in items:
            body = _json(item.response_body)
            if not isinstance(body, dict) or item.host not in ARM_HOSTS or not _key_paths(body):
                continue
            per = seen.setdefault(group_of(item), {})
            per.setdefault(name, set()).update(_key_paths(body))
    out: dict[tuple[str, str, str, int, str], set[str]] = {}
    for group, per in seen.items():
        if len(per) > 1:
            sets = list(per.values())
            varying = set().union(*sets) - sets[0].intersection(*sets[1:])
            if varying:
                out[group] = varying
    return out


def compare(item: Interaction, status: int, headers: dict[str, str], body: str,
            drifted: set[str] | None = None) -> list[str]:
    problems: list[str] = []
    if status != item.status:
        problems.append(f"status {status}, Azure {item.status}")
    for name in LRO_HEADERS:
        mine, azure = headers.get(name), item.response_headers.get(name)
        if name == "location" and item.status in (301, 302, 307, 308):
            continue
        if azure and not mine:
            problems.append(f"no {name} header")
        elif mine and not azure and item.status in (200, 201, 202, 204):
            problems.append(f"{name} header Azure did not send")
        elif mine and azure and _url_shape(mine) != _url_shape(azure):
            problems.append(f"{name} {_url_shape(mine)}, Azure {_url_shape(azure)}")
    recorded, got = _json(item.response_body), _json(body)
    if isinstance(recorded, _Lines) or isinstance(got, _Lines):
        first_r = recorded.first if isinstance(recorded, _Lines) else recorded
        first_g = got.first if isinstance(got, _Lines) else got
        if isinstance(first_r, dict):
            if not isinstance(first_g, dict):
                problems.append("no JSON lines where Azure sent them")
            else:
                problems.extend(f"line keys {d}" for _, d in key_differences(first_r, first_g))
        elif bool(item.response_body.strip()) != bool(body.strip()):
            problems.append("body " + ("missing" if item.response_body.strip() else "where Azure sent none"))
        return problems
    if recorded is None and got is not None and item.status < 400:
        problems.append("a body where Azure sent none")
    elif recorded is not None and got is None:
        problems.append("no body where Azure sent one")
    elif status == item.status:
        diffs = [d for depth, d in key_differences(recorded, got)
                 if depth <= SCORED_DEPTH and d[1:] not in (drifted or set())]
        if diffs:
            problems.append("keys " + " ".join(diffs))
        code, mine = _error_code(recorded), _error_code(got)
        if code is not None and code != mine:
            problems.append(f"error code {mine}, Azure {code}")
    return problems


def _error_message(body: Any) -> str | None:
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("message")) if isinstance(error, dict) and error.get("message") else None


def _error_code(body: Any) -> str | None:
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code")) if isinstance(error, dict) and error.get("code") else None


def deep_notes(item: Interaction, body: str) -> list[str]:
    """Key differences below the scored depth (reported, not scored)."""
    recorded, got = _json(item.response_body), _json(body)
    if isinstance(recorded, _Lines) or isinstance(got, _Lines):
        return []
    return [d for depth, d in key_differences(recorded, got) if depth > SCORED_DEPTH]


# workload state -----------------------------------------------------------------------------------
_RUNNING_VALUES = ("runningState", "healthState", "runningStatus")
_RUNNING_PRESENCE = ("runningStateDetails", "provisioningError", "latestRevisionName")


def workload_state(body: Any) -> Any:
    """What the running workload decides in an app, revision or replica answer (or a list of them): running
    and health states, whether details, a provisioning error and a latest (ready) revision are given, a
    revision's provisioning state and replica count, each container's readiness. None for other bodies."""
    if isinstance(body, dict) and isinstance(body.get("value"), list):
        items = [workload_state(v) for v in body["value"]]
        return (len(items), tuple(items)) if all(i is not None for i in items) else None
    if not isinstance(body, dict) or not isinstance(body.get("properties"), dict):
        return None
    kind = str(body.get("type") or "").lower()
    if not kind.startswith("microsoft.app/containerapps"):
        return None
    props = body["properties"]
    state: list[Any] = [(k, props.get(k)) for k in _RUNNING_VALUES if k in props]
    state += [(k, bool(props.get(k))) for k in _RUNNING_PRESENCE if k in props]
    if kind.endswith("/revisions"):
        state += [("provisioningState", props.get("provisioningState")), ("replicas", props.get("replicas"))]
    for c in props.get("containers") or []:
        if isinstance(c, dict):
            state.append(("container", c.get("ready"), c.get("runningState")))
    return tuple(sorted(state, key=repr))


def _provisioning(body: Any) -> Any:
    props = body.get("properties") if isinstance(body, dict) else None
    return props.get("provisioningState") if isinstance(props, dict) else None


# name mapping -------------------------------------------------------------------------------------
class Names:
    """Recorded (Azure-minted) strings → the emulator's, learned from pairs of answers."""

    def __init__(self) -> None:
        self.map: dict[str, str] = {}

    def learn(self, recorded: Any, got: Any, key: str = "", got_text: str | None = None) -> None:
        """Pair string values at the same place; a recorded value the emulator's answer also holds
        somewhere is shared, not minted (list order may differ), and is not learned."""
        if got_text is None:
            got_text = json.dumps(got)
        if isinstance(recorded, dict) and isinstance(got, dict):
            for k in recorded.keys() & got.keys():
                self.learn(recorded[k], got[k], k, got_text)
        elif isinstance(recorded, list) and isinstance(got, list):
            for r, g in zip(recorded, got, strict=False):
                self.learn(r, g, key, got_text)
        elif (key in LEARNED_KEYS and isinstance(recorded, str) and isinstance(got, str) and recorded != got
              and len(recorded) >= 3 and got and json.dumps(recorded) not in got_text):
            self.add(recorded, got)

    def add(self, recorded: str, got: str) -> None:
        self.map[recorded] = got
        if "/" in recorded:  # URLs and ids also travel without their query, or percent-encoded
            bare_r, bare_g = recorded.split("?", 1)[0], got.split("?", 1)[0]
            if bare_r != recorded:
                self.map.setdefault(bare_r, bare_g)

    def apply(self, text: str) -> str:
        """Replace each recorded value where it stands alone (not inside a longer word: a secret ``test``
        must not rewrite ``clitest.rg000001``), longest first."""
        for recorded in sorted(self.map, key=len, reverse=True):
            if recorded in text:
                literal = self.map[recorded].replace("\\", "\\\\")  # a replacement template, not a regex
                text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(recorded)}(?![A-Za-z0-9])", literal, text)
        return text


# the replayer -------------------------------------------------------------------------------------
@dataclass
class Setup:
    """What a cassette's test made outside the cassette."""

    groups: dict[str, str]
    """resource group → location."""
    environments: list[Interaction]
    """Recorded GETs of environments the cassette reads but never creates (their bodies are the spec)."""


def _location(items: list[Interaction]) -> str:
    for item in items:
        for text in (item.body, item.response_body):
            m = re.search(r'"location"\s*:\s*"([^"]+)"', text)
            if m:
                return m.group(1)
    return "eastus"


def plan(items: list[Interaction]) -> Setup:
    """Resource groups the cassette uses, and environments it reads before (or without) creating them."""
    location = _location(items)
    groups: dict[str, str] = {}
    created: set[str] = set()
    environments: list[Interaction] = []
    for item in items:
        m = re.search(r"/resourceGroups/([^/?]+)", item.uri, re.IGNORECASE)
        if m and item.host in ARM_HOSTS:
            groups.setdefault(m.group(1), location)
        env = re.search(r"(/resourceGroups/[^/]+/providers/Microsoft\.App/managedEnvironments/[^/?]+)$",
                        urlsplit(item.uri).path, re.IGNORECASE)
        if env is None:
            continue
        key = env.group(1).lower()
        if key in created:
            continue
        created.add(key)  # by the cassette (PUT), or before it (first seen in a successful GET)
        if item.method == "GET" and item.status == 200:
            environments.append(item)
    return Setup(groups, environments)


class Replayer:
    """Replays one cassette against one running emulator."""

    def __init__(self, emu: Any, items: list[Interaction], *, timeout: float = 30.0, settle_timeout: float = 10.0,
                 drifted: dict[tuple[str, str, str, int, str], set[str]] | None = None) -> None:
        self.emu = emu
        self.drifted = drifted or {}
        self.items = items
        self.names = Names()
        self.timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy or CA bundle from the environment: loopback only
        self.session.verify = emu.ca_bundle
        cred = emu.credential()
        self.arm_token = cred.get_token("https://management.azure.com/.default").token
        self.logs_token = cred.get_token("https://api.loganalytics.io/.default").token
        self.stream_token = ""
        self.settle_timeout = settle_timeout
        self.settle_poll = 0.05

    # setup ------------------------------------------------------------------------------------
    def _arm(self, method: str, path: str, body: Any, api_version: str) -> requests.Response:
        url = f"{self.emu.url}{path}{'&' if '?' in path else '?'}api-version={api_version}"
        resp = self.session.request(method, url, json=body, timeout=self.timeout,
                                    headers={"Authorization": f"Bearer {self.arm_token}"})
        self._wait(resp)
        return resp

    def prepare(self, setup: Setup) -> None:
        base = f"/subscriptions/{SUBSCRIPTION}/resourceGroups"
        for group, location in setup.groups.items():
            self._arm("PUT", f"{base}/{group}", {"location": location}, "2022-09-01")
        for item in setup.environments:
            recorded = json.loads(item.response_body)
            props = recorded.get("properties") or {}
            spec: dict[str, Any] = {"location": recorded["location"], "properties": {}}
            logs = (props.get("appLogsConfiguration") or {})
            if logs.get("destination") == "log-analytics":
                ws_path = f"{urlsplit(item.uri).path.rsplit('/providers/', 1)[0]}/providers/" \
                          f"Microsoft.OperationalInsights/workspaces/{recorded['name']}-logs"
                ws = self._arm("PUT", ws_path, {"location": recorded["location"]}, "2022-10-01").json()
                keys = self._arm("POST", f"{ws_path}/sharedKeys", None, "2020-08-01").json()
                spec["properties"]["appLogsConfiguration"] = {
                    "destination": "log-analytics", "logAnalyticsConfiguration": {
                        "customerId": ws["properties"]["customerId"], "sharedKey": keys["primarySharedKey"]}}
            for key in ("workloadProfiles", "zoneRedundant", "vnetConfiguration"):
                if props.get(key) is not None:
                    spec["properties"][key] = props[key]
            resp = self._arm("PUT", urlsplit(item.uri).path, spec, "2024-03-01")
            if resp.status_code >= 300:
                raise RuntimeError(f"setting up {item.uri}: {resp.status_code} {resp.text}")
            got = self._arm("GET", urlsplit(item.uri).path, None, "2024-03-01").json()
            self.names.learn(recorded, got)

    # waiting ----------------------------------------------------------------------------------
    def _wait(self, resp: requests.Response) -> None:
        """Follow the emulator's own operation to its end (the cassette's polls are not replayed)."""
        url = resp.headers.get("Azure-AsyncOperation") or resp.headers.get("Location")
        if not url or resp.status_code not in (200, 201, 202):
            return
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            poll = self.session.get(url, headers={"Authorization": f"Bearer {self.arm_token}"}, timeout=self.timeout)
            if poll.status_code == 202:
                time.sleep(0.01)
                continue
            if poll.status_code == 200 and resp.headers.get("Azure-AsyncOperation"):
                state = (poll.json() or {}).get("status")
                if state in ("InProgress", "Running", "Accepted", "Creating", "Updating", "Deleting"):
                    time.sleep(0.01)
                    continue
            return
        raise TimeoutError(f"the emulator's operation {url} did not end within {self.timeout:g} s")

    # workload state ---------------------------------------------------------------------------
    def _settle(self, item: Interaction, url: str, headers: dict[str, str], resp: requests.Response) -> tuple[
            requests.Response, tuple[Any, Any] | None]:
        """A GET of an app, revision or replica whose workload state differs from the recorded one is asked
        again until it shows that state (replicas run real processes, whose start-up and probes take real
        time; the recording caught Azure at one moment of them) or ``settle_timeout`` passes. Returns the
        last answer, and (recorded, last) states when the recorded one was never reached."""
        if item.method != "GET" or item.host not in ARM_HOSTS or item.status != 200 or \
                "/containerapps/" not in item.path.lower():
            return resp, None
        wanted = workload_state(_json(item.response_body))
        if wanted is None:
            return resp, None
        recorded_failed = _provisioning(_json(item.response_body)) == "Failed"
        deadline = time.monotonic() + self.settle_timeout
        group = _group_scope(urlsplit(url).path)
        quiet = 0
        while True:
            body = _json(resp.text) if resp.status_code == 200 else None
            got = workload_state(body)
            if got == wanted:
                return resp, None
            if time.monotonic() >= deadline or (_provisioning(body) == "Failed" and not recorded_failed):
                return resp, (wanted, got)  # (a failed app does not recover by itself)
            # nothing of the group is starting in real time, and the fast clock has had QUIET_POLLS polls to
            # move: the recorded state was a moment this run has passed (or never shows)
            quiet = 0 if group is None or self.emu.platform.settling_under(group) else quiet + 1
            if quiet > QUIET_POLLS:
                return resp, (wanted, got)
            time.sleep(self.settle_poll)
            resp = self.session.get(url, headers=headers, timeout=self.timeout, allow_redirects=False)

    # one interaction --------------------------------------------------------------------------
    def _target(self, item: Interaction) -> tuple[str, dict[str, str]]:
        uri = self.names.apply(item.uri)
        split = urlsplit(uri)
        headers = {k: v for k, v in item.headers.items()
                   if k in ("content-type", "x-ms-blob-type", "x-ms-range", "range", "accept", "prefer",
                            "x-ms-version")}
        host = item.host  # the recorded host says which credential (URLs may already point at the emulator)
        path_query = split.path + (f"?{split.query}" if split.query else "")
        if uri.startswith(self.emu.url):
            url = uri
        else:
            url = f"{self.emu.url}{path_query}"
        if host in ARM_HOSTS:
            headers["Authorization"] = f"Bearer {self.arm_token}"
        elif host in LOGS_HOSTS:
            headers["Authorization"] = f"Bearer {self.logs_token}"
        elif host.endswith(".azurecontainerapps.dev"):
            headers["Authorization"] = f"Bearer {self.stream_token}"
        elif host.endswith(".azurecontainerapps.io"):
            url = f"{split.scheme}://{split.netloc}{path_query}"  # the app's own ingress, through the emulator's proxy
        return url, headers

    def send(self, item: Interaction) -> Verdict:
        url, headers = self._target(item)
        body = item.binary_body if item.binary_body is not None else \
            self.names.apply(item.body).encode() if item.body else None
        proxies = None
        if urlsplit(url).netloc.lower().endswith(".azurecontainerapps.io"):
            proxies = {"http": self.emu.proxy_url, "https": self.emu.proxy_url}
        try:
            resp = self.session.request(item.method, url, data=body, headers=headers, timeout=self.timeout,
                                        allow_redirects=False, proxies=proxies)
        except requests.RequestException as exc:
            return Verdict(item.index, item.method, item.uri, item.status, [f"no answer: {type(exc).__name__}"])
        resp, unreached = self._settle(item, url, headers, resp)
        text = resp.text if item.method != "HEAD" else ""
        verdict = Verdict(item.index, item.method, item.uri, item.status,
                          compare(item, resp.status_code, _flat(dict(resp.headers)), text,
                                  self.drifted.get(group_of(item))),
                          deep_notes(item, text) if resp.status_code == item.status else [])
        recorded, got = _json(item.response_body), _json(text)
        wording = _error_message(recorded)
        if wording is not None and verdict.matched and self.names.apply(wording) != _error_message(got):
            verdict.problems.append(f"error message {_error_message(got)!r}, Azure {wording!r}")
        if not isinstance(recorded, _Lines) and not isinstance(got, _Lines):
            self.names.learn(recorded, got)
        if unreached is not None:
            verdict.unsettled = f"recorded {unreached[0]}, last answered {unreached[1]}"
        if item.method == "POST" and item.path.lower().endswith("/getauthtoken") and isinstance(got, dict):
            self.stream_token = str((got.get("properties") or {}).get("token") or "")
        self._wait(resp)
        return verdict

    def run(self, name: str) -> CassetteResult:
        result = CassetteResult(name)
        seen: set[tuple[str, str]] = set()
        self.prepare(plan(self.items))
        for item in self.items:
            if is_polling(item, seen):
                result.polling += 1
                continue
            result.verdicts.append(self.send(item))
        return result


def cassettes(root: Path) -> Iterator[Path]:
    yield from sorted(root.rglob("*.yaml"))


def replay(path: Path, root: Path | None = None, configure: Any = None,
           drifted: dict[tuple[str, str, str, int, str], set[str]] | None = None) -> CassetteResult:
    """Replay one cassette on a fresh emulator (``configure(emu)`` runs before the first request)."""
    from pytest_acalab.emulator import Emulator

    name = str(path.relative_to(root)) if root else path.name
    with Emulator(profile="fast", subscription_id=SUBSCRIPTION) as emu:
        if configure is not None:
            configure(emu)
        return Replayer(emu, load(path), drifted=drifted).run(name)


def _group_scope(path: str) -> str | None:
    """``/subscriptions/<id>/resourcegroups/<name>`` of an ARM path (lower case), the platform's settling scope."""
    parts = path.lower().strip("/").split("/")
    if len(parts) >= 4 and parts[0] == "subscriptions" and parts[2] == "resourcegroups":
        return "/" + "/".join(parts[:4])
    return None


def replay_all(root: Path, configure: Any = None, limit: int | None = None) -> tuple[
        list[CassetteResult], dict[Any, set[str]]]:
    """Every cassette under ``root`` (or the first ``limit``), each on its own emulator; and the keys Azure
    itself drifted on (computed over all of them)."""
    paths = list(cassettes(root))
    drifted = drift({str(p): load(p) for p in paths})
    # each cassette on its own emulator, several at once: a replay mostly waits (operations, workloads
    # starting in real time), so threads overlap the waits; results keep the cassettes' order
    with ThreadPoolExecutor(max_workers=REPLAY_WORKERS, thread_name_prefix="acalab-replay") as pool:
        results = list(pool.map(lambda p: replay(p, root, configure, drifted), paths[:limit]))
    return results, drifted


def report(results: list[CassetteResult], drifted: dict[Any, set[str]] | None = None) -> str:
    lines = []
    total = sum(r.scored for r in results)
    matched = sum(r.matched for r in results)
    for r in results:
        lines.append(f"{r.rate * 100:6.1f} %  {r.matched:3d}/{r.scored:<3d} {r.name} ({r.polling} polls not scored)")
        for v in r.mismatches():
            lines.append(f"           [{v.index}] {v.method} {v.uri[:140]}: {'; '.join(v.problems)}")
        for v in r.verdicts:
            if v.unsettled:
                lines.append(f"           [{v.index}] workload state not reached (scored as answered): {v.unsettled}")
    notes = sorted({n for r in results for v in r.verdicts for n in v.notes})
    if notes:
        lines.append(f"deeper key differences (not scored): {' '.join(notes)}")
    for group, keys in sorted((drifted or {}).items()):
        lines.append(f"Azure drift (not scored): {group[0]} {group[1]} {group[2]} {group[3]} {group[4] or '-'}: "
                     f"{' '.join(sorted(keys))}")
    rate = matched / total * 100 if total else 100.0
    lines.append(f"{rate:6.1f} %  {matched}/{total} overall")
    return "\n".join(lines)
