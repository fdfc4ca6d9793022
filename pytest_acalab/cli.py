"""The ``acalab`` console script: run the emulator, render lab pages, sweep leaked groups."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from collections.abc import Sequence


def _serve(args: argparse.Namespace) -> int:
    from pytest_acalab.emulator import Emulator
    from pytest_acalab.emulator.connect import azure_cli_env, how_to_connect

    stop = threading.Event()
    with Emulator(profile=args.profile, speed=args.speed, port=args.port) as emu:
        print(how_to_connect(emu), flush=True)
        if args.env_file:
            with open(args.env_file, "w", encoding="utf-8") as fh:
                fh.write(azure_cli_env(emu, shell=True) + "\n")
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
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
    serve.add_argument("--env-file", help="also write the shell exports for SDKs and the Azure CLI here")
    serve.set_defaults(func=_serve)

    env = emu_sub.add_parser("env", help="print shell exports pointing the Azure CLI at a running emulator")
    env.add_argument("--from", dest="source", required=True,
                     help="the --env-file written by 'acalab emulator serve'")
    env.set_defaults(func=_env)

    docs = sub.add_parser("docs", help="render a lab's README.md from its lab file")
    docs.add_argument("labs", nargs="+", help="lab folders")
    docs.add_argument("--check", action="store_true", help="fail if a committed page is stale")
    docs.set_defaults(func=_docs)

    sweep = sub.add_parser("sweep", help="delete resource groups this tool created whose DeleteAfter passed")
    sweep.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    sweep.add_argument("--older-than", default=None, help="also require creation older than this (e.g. 2h)")
    sweep.add_argument("--backend", choices=("azure", "emulator-url"), default="azure",
                       help="azure (DefaultAzureCredential) or a running emulator (ACALAB_EMULATOR_URL ...)")
    sweep.add_argument("--subscription", default=None)
    sweep.set_defaults(func=_sweep)
    return parser


def _env(args: argparse.Namespace) -> int:
    with open(args.source, encoding="utf-8") as fh:
        sys.stdout.write(fh.read())
    return 0


def _docs(args: argparse.Namespace) -> int:
    from pytest_acalab.reports.labpage import render_lab_pages

    return render_lab_pages(args.labs, check=args.check)


def _sweep(args: argparse.Namespace) -> int:
    from pytest_acalab.lifecycle.sweep import sweep_command

    return sweep_command(args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one clear line, never a traceback
        from pytest_acalab.errors import AcalabError

        if isinstance(exc, AcalabError | OSError | ValueError):
            print(f"acalab: error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["main", "shlex"]
