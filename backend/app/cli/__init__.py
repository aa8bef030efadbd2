"""`triage`: the operator's command line (installed as a console script with the package;
`python -m app.cli` works without installing). It reads the same settings as the service
(environment, `backend/.env`) and works on its database and queue directly.

    triage create-user --email ops@example.com [--admin]  # password from a prompt or stdin
    triage set-role ops@example.com admin                 # or: user (demote)
    triage reset-password --email ops@example.com
    triage backfill --user ops@example.com --query "status:open" [--no-wait]
    triage backfill --user ops@example.com --since 2026-01-01 --until 2026-02-01
    triage reprocess --user ops@example.com --category bug --since 2026-01-01
    triage export --user ops@example.com --start 2026-01-01 --end 2026-02-01 -o out.csv
    triage rebuild-rollups --user ops@example.com | --all
    triage retrain --user ops@example.com
    triage rotate-keys
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from app.cli import accounts, jobs, records
from app.cli.common import CommandError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="triage", description="Operate Ticket Triage: accounts, backfills, data, keys."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    accounts.register(commands)
    jobs.register(commands)
    records.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except CommandError as exc:
        print(f"triage: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
