"""``az acr build`` without Docker: interpret a Dockerfile over an uploaded tar.gz context.

What is real: the layers hold the files COPY/ADD put there (``.dockerignore`` respected), the
config carries Env/Cmd/Entrypoint/WorkingDir/ExposedPorts/User/Labels, ARG/ENV substitution
works, multi-stage ``COPY --from`` works between stages, and on a ``python:*`` base the
``pip install`` steps run for real into a cached virtualenv (``runtime.python_envs``). What is
not: other RUN commands are never executed (they are logged and kept in the history as not
executed), base images outside the
built-in catalogue or the caller's registry cannot be pulled and are recorded by name, and
ADD of URLs or auto-extraction of archives is not done. The log text follows the structure of a
real ACR run log, with lines that say what happened here.
"""

from __future__ import annotations

import gzip
import io
import json
import posixpath
import re
import tarfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pytest_acalab.emulator.runtime import python_envs

from . import catalog, oci
from .content import RegistryContent, RegistryError, is_valid_tag, validate_repository_name
from .dockerfile import (
    Dockerfile,
    DockerfileError,
    Instruction,
    command_form,
    expand,
    has_glob,
    is_ignored,
    match_segments,
    parse,
    parse_dockerignore,
    parse_key_values,
    split_words,
)

#: ``resolve_base(reference) -> image | None``: pull a base image from a registry the caller knows.
ResolveBase = Callable[[str], oci.BuiltImage | None]
Clock = Callable[[], datetime]

RUN_ID_TEMPLATE = "{{.Run.ID}}"
_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
_NOT_EXECUTED = "not executed: the emulator does not run build commands"


class BuildFailure(Exception):
    """A build step failed; ``str()`` is the line docker or ACR would print."""


@dataclass(frozen=True)
class PushedImage:
    repository: str
    tag: str
    digest: str


@dataclass(frozen=True)
class BaseImage:
    """A base image a build used (ACR's ``runtime-dependency``)."""

    reference: str  # as written in FROM, after ARG substitution
    registry: str
    repository: str
    tag: str | None
    digest: str | None  # None when it could not be pulled here
    pulled: bool


@dataclass(frozen=True)
class BuildResult:
    succeeded: bool
    log_text: str
    image: oci.BuiltImage | None
    error: str | None = None
    pushed: tuple[PushedImage, ...] = ()
    base_images: tuple[BaseImage, ...] = ()


# --- build context -----------------------------------------------------------------------------


@dataclass
class BuildContext:
    """The files of an uploaded context (``.dockerignore`` not yet applied)."""

    files: dict[str, tuple[bytes, int]]
    dirs: set[str]
    size: int  # bytes of the uncompressed tar
    skipped: list[str] = field(default_factory=list)  # links and special files not copied


def read_context(data: bytes) -> BuildContext:
    """Read a tar.gz (or plain tar) build context; raises BuildFailure with a clear reason."""
    if data[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            raise BuildFailure(f"the build context is a corrupt gzip stream: {exc}") from None
    else:
        raw = data
    try:
        tar = tarfile.open(fileobj=io.BytesIO(raw), mode="r:")
    except tarfile.TarError:
        what = "gzip-compressed data that is not a tar archive" if raw is not data else "neither gzip nor tar"
        raise BuildFailure(
            f"the build context is not a tar.gz archive ({what}, {len(data)} bytes); "
            "az acr build uploads the source directory as a tar.gz"
        ) from None
    files: dict[str, tuple[bytes, int]] = {}
    dirs: set[str] = set()
    skipped: list[str] = []
    with tar:
        try:
            members = tar.getmembers()
        except tarfile.TarError as exc:
            raise BuildFailure(f"the build context tar archive is corrupt: {exc}") from None
        for member in members:
            try:
                path = oci.normalize_path(member.name)
            except ValueError:
                raise BuildFailure(f"the build context contains a path outside the context: {member.name}") from None
            if not path:
                continue
            if member.isdir():
                dirs.add(path)
            elif member.isfile():
                extracted = tar.extractfile(member)
                files[path] = (extracted.read() if extracted else b"", member.mode & 0o7777)
            else:
                skipped.append(path)
    for path in list(files) + list(dirs):
        parts = path.split("/")
        dirs.update("/".join(parts[:i]) for i in range(1, len(parts)))
    return BuildContext(files, dirs, len(raw), skipped)


# --- interpreter -------------------------------------------------------------------------------


@dataclass
class _Stage:
    index: int
    name: str | None
    base: str
    config: oci.ContainerConfig
    layers: list[oci.Layer]
    history: list[oci.HistoryEntry]
    files: dict[str, tuple[bytes, int]]  # the stage's root filesystem (base files + copies)
    dirs: set[str]
    args: dict[str, str] = field(default_factory=dict)
    shell: list[str] = field(default_factory=lambda: ["/bin/sh", "-c"])
    cmd_set: bool = False

    def env(self) -> dict[str, str]:
        return {**self.args, **self.config.env_dict()}


class _Interpreter:
    def __init__(
        self,
        context: BuildContext,
        dockerfile: Dockerfile,
        build_args: Mapping[str, str],
        resolve_base: ResolveBase | None,
        manifest_format: oci.ManifestFormat,
        emit: Callable[[str], None],
    ) -> None:
        self.context = context
        self.dockerfile = dockerfile
        self.build_args = dict(build_args)
        self.resolve_base = resolve_base
        self.manifest_format = manifest_format
        self.emit = emit
        ignore = context.files.get(".dockerignore")
        self.ignore_rules = parse_dockerignore(ignore[0].decode("utf-8", "replace")) if ignore else []
        self.meta_args: dict[str, str] = {}
        self.consumed: set[str] = set()
        self.stages: list[_Stage] = []
        self.base_images: list[BaseImage] = []
        self._visible: tuple[dict[str, tuple[bytes, int]], set[str]] | None = None

    # the context as COPY sees it: .dockerignore applied
    def visible_context(self) -> tuple[dict[str, tuple[bytes, int]], set[str]]:
        if self._visible is None:
            rules = self.ignore_rules
            files = {p: v for p, v in self.context.files.items() if not is_ignored(p, rules)}
            dirs = {d for d in self.context.dirs if not is_ignored(d, rules)}
            self._visible = (files, dirs)
        return self._visible

    def run(self, target: str | None) -> _Stage:
        instructions = self.dockerfile.instructions
        if not any(ins.keyword == "FROM" for ins in instructions):
            raise BuildFailure("No build stage in current context")
        stage: _Stage | None = None
        total = len(instructions)
        for number, ins in enumerate(instructions, 1):
            self.emit(f"Step {number}/{total} : {ins.original}")
            if ins.keyword == "FROM":
                stage = self._from(ins)
                self.stages.append(stage)
            elif stage is None:
                if ins.keyword != "ARG":
                    raise BuildFailure(
                        f"dockerfile parse error line {ins.line}: {ins.keyword} before FROM (only ARG may come first)"
                    )
                self._global_arg(ins)
                continue
            else:
                self._step(stage, ins)
            self.emit(f" ---> {oci.short_id(self._state_id(stage))}")
            if target is not None and stage.name == target and self._stage_ends(number):
                break
        assert stage is not None
        if target is not None:
            found = [s for s in self.stages if s.name == target]
            if not found:
                raise BuildFailure(f"failed to reach build target {target} in Dockerfile")
            stage = found[0]
        unused = sorted(set(self.build_args) - self.consumed)
        if unused:
            self.emit(f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed")
        return stage

    def _stage_ends(self, number: int) -> bool:
        following = self.dockerfile.instructions[number:]
        return not following or following[0].keyword == "FROM"

    def _state_id(self, stage: _Stage) -> str:
        config = oci.image_config_json(stage.config, [layer.diff_id for layer in stage.layers], stage.history)
        return oci.sha256_digest(config)

    # --- FROM / ARG ---

    def _global_arg(self, ins: Instruction) -> None:
        for name, default in self._arg_words(ins, self.meta_args):
            value = self.build_args.get(name, default)
            if name in self.build_args:
                self.consumed.add(name)
            if value is not None:
                self.meta_args[name] = value

    def _arg_words(self, ins: Instruction, env: Mapping[str, str]) -> list[tuple[str, str | None]]:
        out = []
        for word in split_words(ins.args, env, self.dockerfile.escape):
            name, sep, default = word.partition("=")
            if not name:
                raise BuildFailure(f"dockerfile parse error line {ins.line}: ARG names can not be blank")
            out.append((name, default if sep else None))
        return out

    def _from(self, ins: Instruction) -> _Stage:
        words = split_words(ins.args, self.meta_args, self.dockerfile.escape)
        if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
            raise BuildFailure(f"dockerfile parse error line {ins.line}: FROM requires either one or three arguments")
        ref = words[0]
        name = words[2].lower() if len(words) == 3 else None
        index = len(self.stages)
        previous = next((s for s in self.stages if s.name is not None and s.name == ref.lower()), None)
        if previous is not None:
            return _Stage(
                index,
                name,
                previous.base,
                previous.config.copy(),
                list(previous.layers),
                list(previous.history),
                dict(previous.files),
                set(previous.dirs),
                shell=list(previous.shell),
            )
        if ref == "scratch":
            return _Stage(index, name, ref, oci.ContainerConfig(), [], [], {}, set())
        image = self._pull(ref)
        if image is None:
            parsed = _safe_parse(ref)
            self.emit(
                f"Base image {ref} cannot be pulled here: the emulator reaches no public registry and the "
                "image is not in its built-in catalogue."
            )
            self.emit("Recorded the base image by name; building on an empty root filesystem (its files are missing).")
            self.base_images.append(
                BaseImage(
                    ref,
                    parsed.display_registry if parsed else "",
                    parsed.repository if parsed else ref,
                    parsed.tag if parsed else None,
                    None,
                    False,
                )
            )
            config = oci.ContainerConfig(labels={"org.opencontainers.image.base.name": ref})
            history = [
                oci.HistoryEntry(
                    created_by=f"FROM {ref}",
                    empty_layer=True,
                    comment="base image not pulled (unreachable from the emulator); its layers are missing",
                )
            ]
            return _Stage(index, name, ref, config, [], history, {}, set())
        parsed = _safe_parse(ref)
        self.base_images.append(
            BaseImage(
                ref,
                parsed.display_registry if parsed else "",
                parsed.repository if parsed else ref,
                parsed.tag if parsed else None,
                image.digest,
                True,
            )
        )
        files = image.files()
        dirs = {p.rstrip("/") for p in files if p.endswith("/")}
        for path in list(files):
            parts = path.rstrip("/").split("/")
            dirs.update("/".join(parts[:i]) for i in range(1, len(parts)))
        files = {p: v for p, v in files.items() if not p.endswith("/")}
        config = image.container_config()
        config.labels.setdefault("org.opencontainers.image.base.name", ref)
        return _Stage(index, name, ref, config, list(image.layers), image.history(), files, dirs)

    def _pull(self, ref: str) -> oci.BuiltImage | None:
        parsed = _safe_parse(ref)
        image = self.resolve_base(ref) if self.resolve_base is not None else None
        source = ""
        if image is None and parsed is not None and parsed.tag:
            image = catalog.lookup(parsed.registry, parsed.repository, parsed.tag)
            source = " (from the emulator's built-in image catalogue)"
        if image is None:
            return None
        tag = parsed.tag if parsed and parsed.tag else "latest"
        repo = parsed.repository if parsed else ref
        self.emit(f"{tag}: Pulling from {repo}")
        for layer in image.layers:
            self.emit(f"{oci.short_id(layer.digest)}: Pulling fs layer")
        for layer in image.layers:
            self.emit(f"{oci.short_id(layer.digest)}: Pull complete")
        self.emit(f"Digest: {image.digest}")
        self.emit(f"Status: Downloaded newer image for {ref}{source}")
        return image

    # --- other instructions ---

    def _step(self, stage: _Stage, ins: Instruction) -> None:
        escape = self.dockerfile.escape
        keyword = ins.keyword
        if keyword == "ARG":
            for name, default in self._arg_words(ins, stage.env()):
                if default is None and name in self.meta_args:
                    default = self.meta_args[name]
                if name in self.build_args:
                    self.consumed.add(name)
                    stage.args[name] = self.build_args[name]
                elif default is not None:
                    stage.args[name] = default
            self._nop(stage, ins.original)
        elif keyword == "ENV":
            for key, value in parse_key_values(ins.args, stage.env(), escape, "ENV", ins.line):
                stage.config.set_env(key, value)
            self._nop(stage, ins.original)
        elif keyword == "LABEL":
            for key, value in parse_key_values(ins.args, stage.env(), escape, "LABEL", ins.line):
                stage.config.labels[key] = value
            self._nop(stage, ins.original)
        elif keyword == "WORKDIR":
            path = expand(ins.args, stage.env(), escape)
            stage.config.working_dir = _join(stage.config.working_dir or "/", path)
            stage.dirs.add(stage.config.working_dir.strip("/"))
            self._nop(stage, f"WORKDIR {stage.config.working_dir}")
        elif keyword == "USER":
            stage.config.user = expand(ins.args, stage.env(), escape)
            self._nop(stage, f"USER {stage.config.user}")
        elif keyword == "EXPOSE":
            for word in split_words(ins.args, stage.env(), escape):
                stage.config.exposed_ports.extend(_ports(word))
            stage.config.exposed_ports = sorted(set(stage.config.exposed_ports))
            self._nop(stage, ins.original)
        elif keyword == "CMD":
            stage.config.cmd = command_form(ins, stage.shell)
            stage.cmd_set = True
            self._nop(stage, ins.original)
        elif keyword == "ENTRYPOINT":
            stage.config.entrypoint = command_form(ins, stage.shell)
            if not stage.cmd_set:
                stage.config.cmd = None  # docker drops an inherited CMD when ENTRYPOINT is set
            self._nop(stage, ins.original)
        elif keyword == "SHELL":
            shell = ins.json_args()
            if not shell:
                raise BuildFailure(
                    f"dockerfile parse error line {ins.line}: SHELL requires the arguments to be in JSON form"
                )
            stage.shell = shell
            self._nop(stage, ins.original)
        elif keyword == "RUN":
            argv = command_form(ins, stage.shell)
            if self._pip_install(stage, argv):
                return
            self.emit(f" ---> RUN {_NOT_EXECUTED}; whatever it would install or change is missing from the image")
            stage.history.append(oci.HistoryEntry(created_by=" ".join(argv), empty_layer=True, comment=_NOT_EXECUTED))
        elif keyword in ("COPY", "ADD"):
            self._copy(stage, ins)
        else:  # MAINTAINER, VOLUME, STOPSIGNAL, HEALTHCHECK, ONBUILD
            self.emit(f" ---> {keyword} recorded in the image history only")
            self._nop(stage, ins.original)

    def _pip_install(self, stage: _Stage, argv: list[str]) -> bool:
        """Execute ``pip install`` steps for real on a ``python:*`` base (see ``runtime.python_envs``)."""
        version = python_envs.python_base_version(stage.base)
        steps = python_envs.pip_install_args(argv) if version is not None else None
        if version is None or steps is None:
            return False
        label = stage.config.labels.get(python_envs.RECIPE_LABEL)
        recipe = python_envs.Recipe.from_json(label) if label else python_envs.Recipe(version)
        for args in steps:
            recipe = recipe.then(stage.config.working_dir or "/", args, stage.files)
        self.emit(f" ---> RUN executed by the emulator: base {stage.base} runs on this machine's CPython "
                  f"{python_envs.host_python()}; packages go into its Python environment {recipe.key}")
        try:
            python_envs.ensure(recipe, stage.files, log=lambda line: self.emit(f"     {line}"))
        except python_envs.PythonEnvError as exc:
            self.emit(str(exc))
            raise BuildFailure(f"The command '{' '.join(argv)}' returned a non-zero code: 1") from None
        stage.config.labels[python_envs.RECIPE_LABEL] = json.dumps(recipe.to_json(), sort_keys=True)
        stage.history.append(oci.HistoryEntry(created_by=" ".join(argv), empty_layer=True,
                                              comment=f"executed by the emulator into Python environment {recipe.key}"))
        return True

    @staticmethod
    def _nop(stage: _Stage, text: str) -> None:
        stage.history.append(oci.HistoryEntry(created_by=f"/bin/sh -c #(nop) {text}", empty_layer=True))

    def _copy(self, stage: _Stage, ins: Instruction) -> None:
        env = stage.env()
        escape = self.dockerfile.escape
        exec_form = ins.json_args()
        words = (
            [expand(w, env, escape) for w in exec_form] if exec_form is not None else split_words(ins.args, env, escape)
        )
        if len(words) < 2:
            raise BuildFailure(
                f"{ins.keyword} requires at least two arguments, but only one was provided. "
                "Destination could not be determined."
            )
        sources, dest = words[:-1], words[-1]
        source_stage = ins.flags.get("from")
        if source_stage is not None:
            files, dirs, label = self._from_source(source_stage, ins)
        else:
            files, dirs = self.visible_context()
            label = "build context"
        if "chown" in ins.flags:
            self.emit(f" ---> --chown={ins.flags['chown']} not applied: files in the layer are owned by root (0:0)")
        chmod = _chmod(ins.flags.get("chmod"), ins.line)

        dest_dir_hint = dest.endswith("/") or dest in (".", "..")
        dest_path = _join(stage.config.working_dir or "/", dest).strip("/")
        matched: list[tuple[str, bool]] = []  # (source path, is_dir)
        for source in sources:
            if ins.keyword == "ADD" and re.match(r"^(https?://|git@)", source):
                self.emit(f" ---> ADD {source}: fetching URLs is not supported by the emulator; nothing was added")
                continue
            try:
                clean = oci.normalize_path(source)
            except ValueError:
                raise BuildFailure(
                    f"{ins.keyword} failed: forbidden path outside the build context: {source} ()"
                ) from None
            if has_glob(clean):
                hits = sorted(
                    {p for p in files if match_segments(clean, p)} | {d for d in dirs if match_segments(clean, d)}
                )
                if not hits:
                    raise BuildFailure(f"{ins.keyword} failed: no source files were specified")
                matched.extend((hit, hit in dirs) for hit in hits)
            elif clean == "" or clean in dirs:
                matched.append((clean, True))
            elif clean in files:
                matched.append((clean, False))
            else:
                raise BuildFailure(
                    f"{ins.keyword} failed: file not found in {label} or excluded by .dockerignore: "
                    f"stat {clean}: file does not exist"
                )
        if not matched:
            self._nop(stage, f"{ins.original} (nothing added)")
            return
        dest_is_dir = dest_dir_hint or len(matched) > 1 or matched[0][1] or dest_path in stage.dirs
        added: dict[str, tuple[bytes, int]] = {}
        for source, is_dir in matched:
            if is_dir:
                prefix = source + "/" if source else ""
                for path, (content, mode) in files.items():
                    if path.startswith(prefix):
                        added[_under(dest_path, path[len(prefix) :])] = (content, chmod if chmod is not None else mode)
                for d in dirs:
                    if d.startswith(prefix) and d != source:
                        added[_under(dest_path, d[len(prefix) :]) + "/"] = (b"", chmod if chmod is not None else 0o755)
                if dest_path:
                    added.setdefault(dest_path + "/", (b"", 0o755))
            else:
                content, mode = files[source]
                if ins.keyword == "ADD" and source.endswith(_ARCHIVE_SUFFIXES):
                    self.emit(f" ---> ADD {source}: archive copied as a file, not extracted (not supported here)")
                target = _under(dest_path, posixpath.basename(source)) if dest_is_dir else dest_path
                if not target:
                    raise BuildFailure(f"{ins.keyword} failed: cannot copy {source} to the root directory as a file")
                added[target] = (content, chmod if chmod is not None else mode)
        layer = oci.make_layer(added)
        stage.layers.append(layer)
        for path, value in added.items():
            if path.endswith("/"):
                stage.dirs.add(path.rstrip("/"))
            else:
                stage.files[path] = value
            parts = path.rstrip("/").split("/")
            stage.dirs.update("/".join(parts[:i]) for i in range(1, len(parts)))
        if dest_is_dir and dest_path:
            stage.dirs.add(dest_path)
        shown_sources = " ".join(s for s, _ in matched) or "."
        stage.history.append(
            oci.HistoryEntry(created_by=f"/bin/sh -c #(nop) {ins.keyword} {shown_sources} in /{dest_path}")
        )

    def _from_source(self, name: str, ins: Instruction) -> tuple[dict[str, tuple[bytes, int]], set[str], str]:
        for stage in self.stages:
            if stage.name == name.lower() or (name.isdigit() and stage.index == int(name)):
                return stage.files, stage.dirs, f"stage {name}"
        image = self._pull(name)
        if image is None:
            raise BuildFailure(
                f"{ins.keyword} --from={name}: no stage of that name and the image cannot be pulled here"
            )
        files = image.files()
        dirs = {p.rstrip("/") for p in files if p.endswith("/")}
        return {p: v for p, v in files.items() if not p.endswith("/")}, dirs, f"image {name}"


def _safe_parse(ref: str) -> catalog.ImageReference | None:
    try:
        return catalog.parse_reference(ref)
    except ValueError:
        return None


def _join(base: str, path: str) -> str:
    joined = posixpath.normpath(posixpath.join(base, path)) if path else posixpath.normpath(base)
    return "/" + joined.lstrip("/") if joined != "/" else "/"


def _under(directory: str, name: str) -> str:
    return f"{directory}/{name}" if directory else name


def _ports(word: str) -> list[str]:
    port, _, proto = word.partition("/")
    proto = (proto or "tcp").lower()
    low, _, high = port.partition("-")
    if not low.isdigit() or (high and not high.isdigit()) or proto not in ("tcp", "udp", "sctp"):
        raise BuildFailure(f"Invalid containerPort: {word}")
    first, last = int(low), int(high or low)
    if last < first or last > 65535:
        raise BuildFailure(f"Invalid containerPort: {word}")
    return [f"{p}/{proto}" for p in range(first, last + 1)]


def _chmod(value: str | None, line: int) -> int | None:
    if value is None:
        return None
    if not re.fullmatch(r"[0-7]{3,4}", value):
        raise BuildFailure(f"dockerfile parse error line {line}: invalid chmod parameter {value!r} (octal expected)")
    return int(value, 8)


def _human_size(size: int) -> str:
    """docker's ``units.HumanSize``: 4 significant digits, decimal units."""
    units = ["B", "kB", "MB", "GB", "TB"]
    value = float(size)
    index = 0
    while value >= 1000 and index < len(units) - 1:
        value /= 1000
        index += 1
    return f"{value:.4g}{units[index]}"


_FROM_LINE = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)", re.IGNORECASE | re.MULTILINE)


# --- image names and pushing -------------------------------------------------------------------


def expand_image_names(image_names: Sequence[str], run_id: str, login_server: str = "") -> list[tuple[str, str]]:
    """``["labacr:{{.Run.ID}}"]`` → ``[("labacr", "ca1")]``; no tag means ``latest``.

    A leading ``<login_server>/`` is removed. Raises ValueError for names a registry refuses.
    """
    out = []
    for raw in image_names:
        name = raw.replace(RUN_ID_TEMPLATE, run_id).strip()
        if login_server and name.lower().startswith(login_server.lower() + "/"):
            name = name[len(login_server) + 1 :]
        repository, tag = name, "latest"
        last = name.rsplit("/", 1)[-1]
        if ":" in last:
            repository, _, tag = name.rpartition(":")
        try:
            validate_repository_name(repository)
        except RegistryError:
            raise ValueError(f'invalid argument "{raw}" for "-t, --tag" flag: invalid reference format') from None
        if not is_valid_tag(tag):
            raise ValueError(f'invalid argument "{raw}" for "-t, --tag" flag: invalid reference format')
        out.append((repository, tag))
    return out


def push_built_image(
    content: RegistryContent, image: oci.BuiltImage, image_names: Sequence[str], *, run_id: str = ""
) -> list[PushedImage]:
    """Push ``image`` under every name (``repo:tag``, ``{{.Run.ID}}`` expanded). All names are checked first."""
    names = expand_image_names(image_names, run_id, content.login_server)
    pushed = []
    for repository, tag in names:
        digest = content.push_image(repository, [tag], image)
        pushed.append(PushedImage(repository, tag, digest))
    return pushed


# --- the ACR run -------------------------------------------------------------------------------


def run_build(
    context: bytes,
    *,
    dockerfile_path: str = "Dockerfile",
    image_names: Sequence[str] = (),
    build_args: Mapping[str, str] | None = None,
    target: str | None = None,
    registry: RegistryContent | None = None,
    push: bool = True,
    run_id: str = "ca1",
    login_server: str | None = None,
    resolve_base: ResolveBase | None = None,
    clock: Clock | None = None,
    timeout_seconds: int = 28800,
    manifest_format: oci.ManifestFormat = "docker",
) -> BuildResult:
    """Run ``az acr build``: build ``context`` (tar.gz bytes) and, if ``push``, push to ``registry``.

    Never raises for a bad build: failures come back as ``succeeded=False`` with the reason in
    ``error`` and at the end of ``log_text``. ``clock`` supplies log timestamps (UTC now by default).
    """
    if push and image_names and registry is None:
        raise ValueError("run_build: image_names given with push=True but no registry to push to")
    now: Clock = clock or (lambda: datetime.now(UTC))
    server = login_server if login_server is not None else (registry.login_server if registry else "")
    lines: list[str] = []
    started = now()

    def stamp(text: str) -> None:
        lines.append(f"{now().strftime('%Y/%m/%d %H:%M:%S')} {text}")

    def qualified(repository: str, tag: str) -> str:
        return f"{server}/{repository}:{tag}" if server else f"{repository}:{tag}"

    def fail(reason: str, step: str | None, scan: bool = False) -> BuildResult:
        if step is not None:
            if not scan:
                stamp(f"Step failed during run: {step}. No retries remaining.")
            lines.append(
                f"failed to run step ID: {step}: {'failed to scan dependencies: ' if scan else ''}exit status 1"
            )
        lines.append("")
        elapsed = round((now() - started).total_seconds())
        lines.append(f"Run ID: {run_id} failed after {elapsed}s. Error: failed during run, err: exit status 1")
        return BuildResult(
            False, "\n".join(lines) + "\n", None, reason, (), tuple(interp.base_images) if interp else ()
        )

    interp: _Interpreter | None = None
    stamp("Downloading source code...")
    try:
        ctx = read_context(context)
    except BuildFailure as exc:
        stamp(f"Failed to read the source code: {exc}")
        return fail(str(exc), None)
    stamp("Finished downloading source code")
    try:
        names = expand_image_names(image_names, run_id, server) if image_names else []
    except ValueError as exc:
        lines.append(str(exc))
        return fail(str(exc), "build")
    stamp(f"Executing step ID: build. Timeout(sec): {timeout_seconds}, Working directory: '', Network: ''")
    stamp("Scanning for dependencies...")
    try:
        entry = ctx.files.get(oci.normalize_path(dockerfile_path))
    except ValueError:
        entry = None
    if entry is None:
        reason = (
            f"error opening dockerfile: {dockerfile_path}, error: open {dockerfile_path}: no such file or directory"
        )
        stamp(f"Output from dependency scanning: {reason}")
        return fail(reason, "build", scan=True)
    text = entry[0].decode("utf-8", "replace").lstrip("\ufeff")
    stamp("Successfully scanned dependencies")
    stamp("Building with the emulator's Dockerfile interpreter: no container is started; on python:* bases the "
          "pip install steps run for real, every other RUN step is not executed")
    lines.append(f"Sending build context to Docker daemon  {_human_size(ctx.size):>7}")
    for path in ctx.skipped:
        lines.append(f"Skipping {path}: links and special files in the context are not supported here")
    try:
        dockerfile = parse(text)
        interp = _Interpreter(ctx, dockerfile, build_args or {}, resolve_base, manifest_format, lines.append)
        final = interp.run(target)
    except (BuildFailure, DockerfileError) as exc:
        message = str(exc)
        if isinstance(exc, DockerfileError) or message.startswith("dockerfile parse error"):
            message = f"Error response from daemon: {message}"
        lines.append(message)
        return fail(str(exc), "build")
    image = oci.assemble_image(final.layers, final.config, final.history, manifest_format=manifest_format)
    lines.append(f"Successfully built {oci.short_id(image.image_id)}")
    for repository, tag in names:
        lines.append(f"Successfully tagged {qualified(repository, tag)}")
    stamp("Successfully executed step: build")
    build_done = now()

    pushed: list[PushedImage] = []
    if push and names:
        stamp("Executing step ID: push. Timeout(sec): 3600, Working directory: '', Network: ''")
        for repository, tag in names:
            stamp(f"Pushing image: {qualified(repository, tag)}, attempt 1")
            lines.append(f"The push refers to repository [{server + '/' if server else ''}{repository}]")
            existing = {layer.digest: registry.has_blob(layer.digest) for layer in image.layers}
            for layer in reversed(image.layers):
                lines.append(f"{oci.short_id(layer.digest)}: Preparing")
            try:
                digest = registry.push_image(repository, [tag], image)
            except RegistryError as exc:
                lines.append(f"{exc.code.lower().replace('_', ' ')}: {exc.message}")
                return fail(f"push failed: {exc}", "push")
            for layer in reversed(image.layers):
                state = "Layer already exists" if existing[layer.digest] else "Pushed"
                lines.append(f"{oci.short_id(layer.digest)}: {state}")
            lines.append(f"{tag}: digest: {digest} size: {len(image.manifest)}")
            stamp(f"Successfully pushed image: {qualified(repository, tag)}")
            pushed.append(PushedImage(repository, tag, digest))
    finished = now()
    build_seconds = (build_done - started).total_seconds()
    push_seconds = (finished - build_done).total_seconds()
    stamp(f"Step ID: build marked as successful (elapsed time in seconds: {build_seconds:.6f})")
    stamp("Populating digests for step ID: build...")
    stamp("Successfully populated digests for step ID: build")
    if pushed:
        stamp(f"Step ID: push marked as successful (elapsed time in seconds: {push_seconds:.6f})")
    stamp("The following dependencies were found:")
    stamp("")
    runtime = next((b for b in reversed(interp.base_images) if b.reference == final.base), None)
    for repository, tag in names or [("", "")]:
        if repository:
            lines += ["- image:", f"    registry: {server}", f"    repository: {repository}", f"    tag: {tag}"]
            lines.append(f"    digest: {image.digest}")
            prefix = "  "
        else:
            prefix = "- "
        if runtime is not None:
            lines += [
                f"{prefix}runtime-dependency:",
                f"    registry: {runtime.registry}",
                f"    repository: {runtime.repository}",
            ]
            if runtime.tag:
                lines.append(f"    tag: {runtime.tag}")
            if runtime.digest:
                lines.append(f"    digest: {runtime.digest}")
            prefix = "  "
        lines.append(f"{prefix}git: {{}}")
    lines += ["", ""]
    elapsed = round((now() - started).total_seconds())
    lines.append(f"Run ID: {run_id} was successful after {elapsed}s")
    return BuildResult(True, "\n".join(lines) + "\n", image, None, tuple(pushed), tuple(interp.base_images))


def scan_base_references(dockerfile_text: str) -> list[str]:
    """The FROM references of a Dockerfile, as ACR's dependency scanner lists them (no ARG expansion)."""
    return _FROM_LINE.findall(dockerfile_text)
