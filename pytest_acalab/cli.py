"""The ``acalab`` console script: run the emulator, scaffold labs and render their pages, compare runs, sweep
leaked groups."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import sys
import threading
from collections.abc import Sequence

from pytest_acalab.errors import AcalabError
from pytest_acalab.lifecycle.sweep import sweep_command
from pytest_acalab.reports.labpage import render_lab_pages


def _serve(args: argparse.Namespace) -> int:
    # the emulator's dependencies (TLS, DuckDB) load only when it starts
    from pytest_acalab.emulator import Emulator
    from pytest_acalab.emulator.connect import azure_cli_script, how_to_connect, write_env_file

    stop = threading.Event()
    with Emulator(profile=args.profile, speed=args.speed, port=args.port, cloud=args.hosts == "azure") as emu:
        env_file = os.path.abspath(args.env_file) if args.env_file else str(emu.state_dir / "acalab.env")
        # a stop asked for as soon as the instructions show (a script's Ctrl-C or kill) must stop it cleanly:
        # the handlers are in place before anything is printed
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        try:
            write_env_file(env_file, azure_cli_script(emu))  # the secret goes here (0600), never to the terminal
            print(how_to_connect(emu, env_file), flush=True)
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            if args.env_file:  # its secret and addresses die with this emulator
                with contextlib.suppress(OSError):
                    os.remove(env_file)
        print("\nemulator stopped", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="acalab", description="Azure Container Apps labs as pytest tests.")
    sub = parser.add_subparsers(dest="command", required=True)

    emu = sub.add_parser("emulator", help="the local Azure emulator")
    emu_sub = emu.add_subparsers(dest="emulator_command", required=True)
    serve = emu_sub.add_parser("serve", help="run the emulator until Ctrl-C")
    serve.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    serve.add_argument("--profile", choices=("fast", "realistic"), default="fast")
    serve.add_argument("--speed", type=float, default=1.0, help="speed factor for the realistic profile")
    serve.add_argument("--hosts", choices=("azure", "loopback"), default="azure",
                       help="azure (default, cloud-faithful): every URL it hands out names Azure's real hosts, "
                            "answered through its HTTPS proxy; loopback: URLs name https://127.0.0.1:<port> and "
                            "the Azure CLI uses a custom cloud")
    serve.add_argument("--env-file",
                       help="write the shell exports and Azure CLI login for 'acalab emulator env' here (mode 0600; "
                            "removed when the emulator stops); default: a file in the emulator's state directory")
    serve.set_defaults(func=_serve)

    env = emu_sub.add_parser("env", help="print shell exports pointing the Azure CLI at a running emulator")
    env.add_argument("--from", dest="source", required=True,
                     help="the --env-file written by 'acalab emulator serve'")
    env.set_defaults(func=_env)

    new = sub.add_parser("new", help="scaffold a lab folder that runs green on the emulator",
                         description="Write DIR/NAME/ (default labs/NAME/): lab.yaml with one hypothesis row, "
                                     "infra/main.bicep and the infra/main.json compiled from it, a workload to build "
                                     "and the lab page README.md with its blocks rendered. Then: pytest DIR/NAME -v")
    new.add_argument("name", help="the lab's name: its id and folder (lower-case letters, digits, '-', '_')")
    new.add_argument("--dir", default="labs", help="the folder that holds labs (default: labs)")
    new.set_defaults(func=_new)

    # loaded only on this path, keeping pytest --version and collection light
    from pytest_acalab.reports.labpage import BLOCKS

    blocks = "\n".join(f"  {name:<16} {what}" for name, (_, what) in BLOCKS.items())
    docs = sub.add_parser(
        "docs", help="render a lab's README.md from its lab file", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Render the blocks of each lab's page (README.md) from its lab.yaml. A block is\n"
                    "  <!-- BEGIN acalab:NAME -->\n  ...\n  <!-- END acalab:NAME -->\n"
                    "and everything outside the blocks is left as written. A page that lacks blocks gets them\n"
                    "appended (under a heading each); a lab without a page gets one. The blocks:\n" + blocks)
    docs.add_argument("labs", nargs="+", help="lab folders")
    docs.add_argument("--check", action="store_true",
                      help="change nothing; fail if a page is stale, lacks blocks or is missing")
    docs.set_defaults(func=_docs)

    cmp = sub.add_parser("compare", help="what changed between two runs, per lab and row (drift)",
                         description="Compare two runs of the labs: verdicts, expectations, observed values, error "
                                     "wording and how long transitions took. OLD and NEW are report directories "
                                     "(--acalab-report-dir) or junit files (--junitxml), or folders of junit files.")
    cmp.add_argument("old", help="the baseline: report directory or junit file")
    cmp.add_argument("new", help="the run to compare with it")
    cmp.add_argument("--format", choices=("text", "markdown", "json"), default="text",
                     help="text (terminal table, default), markdown (GitHub job summary) or json")
    cmp.add_argument("--github-summary", action="store_true",
                     help="also append the Markdown table to the file $GITHUB_STEP_SUMMARY names")
    cmp.add_argument("--exit-code", action="store_true", help="exit with 1 when anything changed (like git diff)")
    cmp.set_defaults(func=_compare)

    sweep = sub.add_parser("sweep", help="delete resource groups this tool created whose DeleteAfter passed "
                                         "or whose lease lapsed")
    sweep.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    sweep.add_argument("--older-than", default=None, help="also require creation older than this (e.g. 2h)")
    sweep.add_argument("--backend", choices=("azure", "emulator-url"), default="azure",
                       help="azure (DefaultAzureCredential) or a running emulator (ACALAB_EMULATOR_URL ...)")
    sweep.add_argument("--subscription", default=None)
    sweep.set_defaults(func=_sweep)
    return parser


def _env(args: argparse.Namespace) -> int:
    """Print the env file written by ``serve`` (``eval`` it), after checking its emulator answers."""
    # the emulator's dependencies (TLS, DuckDB) load only when it starts
    from pytest_acalab.emulator.connect import SECRET_VARIABLE, check_emulator, read_exports

    with open(args.source, encoding="utf-8") as fh:
        text = fh.read()
    exports = read_exports(text)
    url, ca = exports.get("ACALAB_EMULATOR_URL"), exports.get("ACALAB_EMULATOR_CA_BUNDLE")
    if not url or not ca:
        raise ValueError(f"{args.source} is not an env file written by 'acalab emulator serve --env-file'")
    check_emulator(url, ca)
    if sys.stdout.isatty():  # shown, not captured by eval: keep the secret off the screen
        secret = exports.get(SECRET_VARIABLE, "")
        if secret:
            text = text.replace(secret, "<hidden: in the env file>")
        print(f'# to apply: eval "$(acalab emulator env --from {shlex.quote(args.source)})"', file=sys.stderr)
    sys.stdout.write(text)
    return 0


def _new(args: argparse.Namespace) -> int:
    # loaded only on this path (a command or report most runs never reach)
    from pathlib import Path

    # loaded only on this path, keeping pytest --version and collection light
    from pytest_acalab.authoring.scaffold import new_lab

    folder = new_lab(args.name, Path(args.dir))
    print(f"created {folder}/ (lab.yaml, infra/main.bicep, infra/main.json, workload/, README.md)\n"
          f"run it:          pytest {folder} -v\n"
          f"render its page: acalab docs {folder}")
    return 0


def _docs(args: argparse.Namespace) -> int:
    return render_lab_pages(args.labs, check=args.check)


def _compare(args: argparse.Namespace) -> int:
    # loaded only on this path (a command or report most runs never reach)
    import shutil

    # loaded only on this path, keeping pytest --version and collection light
    from pytest_acalab.reports.drift import as_json, compare, format_markdown, format_text, load_run

    drift = compare(load_run(args.old), load_run(args.new))
    if args.format == "markdown":
        sys.stdout.write(format_markdown(drift))
    elif args.format == "json":
        print(as_json(drift))
    else:
        print("\n".join(format_text(drift, shutil.get_terminal_size((120, 24)).columns)))
    if args.github_summary:
        target = os.environ.get("GITHUB_STEP_SUMMARY")
        if not target:
            raise ValueError("--github-summary: GITHUB_STEP_SUMMARY is not set (it is, inside a GitHub Actions job)")
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(format_markdown(drift))
    return 1 if args.exit_code and drift.changes else 0


def _sweep(args: argparse.Namespace) -> int:
    return sweep_command(args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one clear line, never a traceback
        if isinstance(exc, AcalabError | OSError | ValueError):
            print(f"acalab: error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["main"]
