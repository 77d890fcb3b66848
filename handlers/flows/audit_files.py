"""Audit exports as files: CSV or JSON Lines, written as they are read, in chunks.

Shared by the command line (`releasebot audit export`), the API (`GET /api/v1/audit`) and
`/release audit`. Each row: id, time (ISO 8601, UTC), workspace, actor, action, release
(service@version, empty for events about no release), before and after (JSON), reason,
source.

CSV (RFC 4180, UTF-8, a header line): a cell that starts with = + - @ (or a tab or
carriage return) gets a ' in front, so a spreadsheet shows it as text instead of running
it as a formula (CSV injection); so does one that starts with ', so that stripping one
leading ' gives every value as recorded. JSON Lines: one JSON object a line, values untouched.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from slack_sdk import WebClient

from handlers.deps import Deps
from handlers.flows.manager_role import require_manager
from models import audit
from models.audit_export import FIELDS, ExportQuery, ExportRow, parse_moment, rows
from models.release import proposing
from models.release.queries import Actor

Format = Literal["csv", "jsonl"]
MEDIA_TYPES: dict[Format, str] = {
    "csv": "text/csv; charset=utf-8",
    "jsonl": "application/jsonl; charset=utf-8",
}
CHUNK = 64 * 1024  # bytes handed on at a time

# What a spreadsheet reads as the start of a formula: such a cell gets a ' in front. So
# does one that starts with ' already, so that stripping one leading ' always undoes it.
_FORMULA_STARTS = frozenset(("=", "+", "-", "@", "\t", "\r", "'"))


def _jsonl_line(row: ExportRow) -> str:
    # Built as text: before and after are JSON already, as the database holds them.
    text = json.dumps
    return (
        f'{{"id": {row.id}, "time": "{row.time}", "workspace": {text(row.team_id)}, '
        f'"actor": {text(row.actor)}, "action": {text(row.action)}, '
        f'"release": {text(row.release)}, "before": {row.before_json or "null"}, '
        f'"after": {row.after_json or "null"}, "reason": {text(row.reason)}, '
        f'"source": {text(row.source)}}}\n'
    )


def _csv_cells(row: ExportRow) -> tuple[str, ...]:
    # id, time and workspace are ours, and JSON starts with { or [: the rest is guarded.
    actor, action, release, reason, source = (
        row.actor,
        row.action,
        row.release or "",
        row.reason,
        row.source,
    )
    return (
        str(row.id),
        row.time,
        row.team_id,
        "'" + actor if actor[:1] in _FORMULA_STARTS else actor,
        "'" + action if action[:1] in _FORMULA_STARTS else action,
        "'" + release if release[:1] in _FORMULA_STARTS else release,
        row.before_json or "",
        row.after_json or "",
        "'" + reason if reason[:1] in _FORMULA_STARTS else reason,
        "'" + source if source[:1] in _FORMULA_STARTS else source,
    )


def csv_chunks(rows: Iterable[ExportRow], counter: list[int] | None = None) -> Iterator[bytes]:
    """The CSV file, a chunk of about CHUNK bytes at a time. `counter`, when given, ends
    up holding the number of rows written ([n])."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(FIELDS)
    count = 0
    for row in rows:
        writer.writerow(_csv_cells(row))
        count += 1
        if buffer.tell() >= CHUNK:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if counter is not None:
        counter[:] = [count]
    yield buffer.getvalue().encode()


def jsonl_chunks(rows: Iterable[ExportRow], counter: list[int] | None = None) -> Iterator[bytes]:
    """The JSON Lines file, a chunk at a time (as csv_chunks)."""
    parts: list[str] = []
    size = 0
    count = 0
    for row in rows:
        line = _jsonl_line(row)
        parts.append(line)
        size += len(line)
        count += 1
        if size >= CHUNK:
            yield "".join(parts).encode()
            parts.clear()
            size = 0
    if counter is not None:
        counter[:] = [count]
    if parts:
        yield "".join(parts).encode()


def chunks(
    rows: Iterable[ExportRow], fmt: Format, counter: list[int] | None = None
) -> Iterator[bytes]:
    return csv_chunks(rows, counter) if fmt == "csv" else jsonl_chunks(rows, counter)


# --- `/release audit`: the CSV, sent to a release manager in a DM ------------------------


@dataclass(frozen=True)
class SentExport:
    count: int  # events in the file
    filename: str
    channel: str  # the DM it was shared in


def send_to_manager(
    deps: Deps,
    client: WebClient,
    actor: Actor,
    service: str | None,
    since_text: str | None,
    comment: Callable[[int, str | None, datetime | None], str],
) -> SentExport:
    """Release managers only: every event of the workspace (private releases' too) as a
    CSV file in a DM with them; `comment(count, service, since)` words the message."""
    actor = require_manager(deps, client, actor, "export the audit trail")
    now = deps.clock()
    since = parse_moment(since_text, now=now) if since_text else None
    if service is not None:
        service = proposing.clean_service(service)
    query = ExportQuery(team_id=actor.team_id, since=since, service=service)
    with deps.db.session() as session:
        # Exporting is audited too (and is in the file it makes).
        audit.record(
            session,
            team_id=actor.team_id,
            release_id=None,
            actor_id=actor.user_id,
            action="audit_exported",
            after={"service": service, "since": since.isoformat() if since else None},
            detail="csv to a DM",
            at=now,
        )
    dm = str(client.conversations_open(users=actor.user_id)["channel"]["id"])
    counter = [0]
    stamp = now.strftime("%Y%m%dT%H%MZ")
    filename = f"audit-{actor.team_id}{'-' + service if service else ''}-{stamp}.csv"
    # Spooled to disk as it is read; Slack's client then sends the file's bytes.
    with tempfile.TemporaryFile() as spool:
        for chunk in csv_chunks(rows(deps.db, query), counter):
            spool.write(chunk)
        spool.seek(0)
        client.files_upload_v2(
            channel=dm,
            file=spool,
            filename=filename,
            title=filename,
            initial_comment=comment(counter[0], service, since),
        )
    return SentExport(counter[0], filename, dm)
