"""`releasebot audit export`: every audit event, as CSV or JSON Lines, for auditors.

Reads the database straight (DATABASE_URL; no Slack settings needed), so it exports
everything: every workspace unless `--team` names one, and private releases too. Rows are
read and written in batches: memory stays the same however many events there are.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

# The exit statuses: done, the database failed, the arguments are wrong.
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    audit = sub.add_parser("audit", help="the audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    export = audit_sub.add_parser(
        "export",
        help="write every audit event as CSV or JSON Lines (private releases included)",
        description="Every audit event, oldest recorded first. Dates: 2026-11-01 (00:00 UTC), "
        "an ISO 8601 time (2026-11-01T09:00Z; without an offset, UTC), or how far back "
        "(30d, 12h).",
    )
    export.add_argument("--since", help="from this moment (included)")
    export.add_argument("--until", help="up to this moment (excluded)")
    export.add_argument("--service", help="only events about this service's releases")
    export.add_argument("--team", help="only this workspace (T…); default: all of them")
    export.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    export.add_argument("--output", type=Path, help="write to this file (default: stdout)")


def run(args: argparse.Namespace) -> int:
    from bot.settings import SettingsError, load_database_url
    from handlers.flows import audit_files
    from handlers.rendering.refusals import text_for
    from handlers.slack_kit.mrkdwn import to_plain
    from models import audit_export
    from models.db import Database
    from models.errors import DomainError
    from models.release import proposing

    try:
        url = load_database_url()
    except SettingsError as error:
        print(f"releasebot: {error}", file=sys.stderr)
        return EXIT_USAGE
    now = datetime.now(UTC)
    try:
        query = audit_export.ExportQuery(
            team_id=args.team,
            since=audit_export.parse_moment(args.since, now=now) if args.since else None,
            until=audit_export.parse_moment(args.until, now=now) if args.until else None,
            service=proposing.clean_service(args.service) if args.service else None,
        )
    except DomainError as error:
        print(f"releasebot: {to_plain(text_for(error))}", file=sys.stderr)
        return EXIT_USAGE
    db = Database(url)
    counter = [0]
    partial = args.output.with_name(args.output.name + ".partial") if args.output else None
    try:
        chunks = audit_files.chunks(audit_export.rows(db, query), args.format, counter)
        if partial is None:
            _write(chunks, sys.stdout.buffer)
            sys.stdout.flush()
        else:
            # Written aside, then renamed: a failed export leaves no half file named FILE.
            with partial.open("wb") as out:
                _write(chunks, out)
            os.replace(partial, args.output)
    except OSError as error:
        if partial is not None:
            partial.unlink(missing_ok=True)
        print(f"releasebot: cannot write the export: {error}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as error:  # an unreachable database is a setup problem, not a bug
        if partial is not None:
            partial.unlink(missing_ok=True)
        print(f"releasebot: database {url.split('@')[-1]}: {error}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        db.dispose()
    where = f" to {args.output}" if args.output else ""
    events = "event" if counter[0] == 1 else "events"
    print(f"releasebot: {counter[0]:,} audit {events} written{where}", file=sys.stderr)
    return EXIT_OK


def _write(chunks: Iterable[bytes], out: BinaryIO) -> None:
    for chunk in chunks:
        out.write(chunk)
