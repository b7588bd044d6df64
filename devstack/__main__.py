"""Command line: `python -m devstack ensure | run -- CMD... | serve | stop`."""

from __future__ import annotations

import argparse
import os
import sys

from devstack import procfile, settings, stack, supervise
from devstack.embedded import MissingProgram, StartFailed
from devstack.procs import log
from devstack.registry import Registry


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("ensure", help="start missing services and leave them running")
    run = commands.add_parser("run", help="ensure services, run CMD, stop what was started")
    run.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    commands.add_parser("serve", help="ensure services, init the schema, run the app processes")
    commands.add_parser("stop", help="stop services left running by `ensure`")
    args = parser.parse_args(argv)
    if args.command == "run":
        args.cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
        if not args.cmd:
            parser.error("run needs a command: python -m devstack run -- CMD [ARGS...]")
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.command == "stop":
        names = Registry(stack.RUN_DIR / "pids").stop_all()
        log(f"stopped {', '.join(names)}" if names else "nothing to stop")
        return 0
    supervise.raise_on_sigterm()
    running: stack.Stack | None = None
    try:
        running = stack.ensure(os.environ, keep=args.command == "ensure",
                               log_files=args.command != "serve")  # fmt: skip
        if args.command == "ensure":
            log(f"settings written to {stack.STACK_ENV}")
            return 0
        env = stack.child_env({k: running.values[k] for k in settings.STACK_KEYS})
        if args.command == "run":
            return supervise.run_command(args.cmd, env)
        code = supervise.run_command(procfile.argv(procfile.RELEASE), env)
        if code != 0:
            log(f"`{procfile.lines()[procfile.RELEASE]}` failed with exit code {code}")
            return code
        env["PORT"] = running.values.get("PORT", "5000")  # the API's, from the environment or .env
        # gunicorn runs several workers: without a shared directory each scrape of /metrics
        # would count one worker's requests (gunicorn.conf.py empties it at start).
        env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(stack.RUN_DIR.resolve() / "api-metrics"))
        lines = procfile.lines()
        return supervise.serve({name: lines[name] for name in procfile.APP_PROCESSES}, env)
    except (MissingProgram, StartFailed, settings.SettingError) as exc:
        print(f"devstack: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, supervise.Terminated):
        log("interrupted")
        return 130
    finally:
        if running is not None and args.command != "ensure":
            running.stop()


if __name__ == "__main__":
    sys.exit(main())
