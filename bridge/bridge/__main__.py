"""``python -m bridge``: the worker command line Bedside runs."""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

from .worker import DEFAULT_IDLE_TIMEOUT_S, Terminate, run


def server_key(parser: argparse.ArgumentParser, value: str) -> str:
    """Bedside's public key from a server.pub path or the key itself (Z85 keys may start with '-': use =)."""
    key = value.strip()
    if os.path.isfile(key):
        with open(key) as f:
            lines = [line.strip() for line in f if line.strip() and not line.startswith("#")]
        key = lines[0] if lines else ""
    if len(key) != 40:
        parser.error(
            f"--server-key {value!r} is neither a server.pub file nor a 40-character key: pass the path of the "
            "server.pub that `bedside keys` wrote, or --server-key='KEY' (quoted, with '=')"
        )
    return key


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bridge", description="Serve a Python model to Bedside.")
    parser.add_argument("--endpoint", required=True, help="ZeroMQ endpoint Bedside bound, e.g. ipc:///run/x.sock")
    parser.add_argument("--entry", required=True, help="path/to/script.py:predict, package.module:predict or ...:Class")
    parser.add_argument("--setup", help="function called once before the first frame (loads weights)")
    parser.add_argument("--name", default="", help="model name, echoed in hello")
    parser.add_argument("--workdir", help="directory to change into before importing the entry")
    parser.add_argument(
        "--idle-timeout", type=float, default=DEFAULT_IDLE_TIMEOUT_S, metavar="SECONDS",
        help="exit when Bedside sends nothing for this long (default %(default)g; 0: never)",
    )
    parser.add_argument(
        "--server-key",
        help="remote worker: Bedside's server.pub from `bedside keys` (its path, or the key itself as --server-key=KEY)",
    )
    parser.add_argument("--key-file", help="remote worker: this worker's key file (public and secret key lines)")
    args = parser.parse_args(argv)
    curve = None
    if args.server_key or args.key_file:
        if not (args.server_key and args.key_file):
            parser.error("a remote worker needs both --server-key and --key-file (made by `bedside keys`)")
        with open(args.key_file) as f:
            lines = [line.strip() for line in f if line.strip() and not line.startswith("#")]
        if len(lines) < 2:
            parser.error(f"{args.key_file} must hold the worker's public and secret key, one per line")
        curve = (server_key(parser, args.server_key), lines[0], lines[1])
    if os.environ.get("BEDSIDE_PROCESS_GROUP") == "1":
        # Bedside stops the whole group, so processes the research code forks do not outlive it.
        try:
            os.setpgrp()
        except OSError:
            pass
    if sys.stdout is not None and hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)  # the researcher's prints reach Bedside's log promptly
    try:
        return run(
            args.endpoint, args.entry, args.setup, args.name or args.entry, args.workdir, args.idle_timeout, curve
        )
    except Terminate:
        return 0


if __name__ == "__main__":
    sys.exit(main())
