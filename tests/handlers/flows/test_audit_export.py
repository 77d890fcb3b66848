"""Audit export: every event, where it came from, as CSV and JSON Lines, by the command line,
the API (streamed) and `/release audit` (a file in a release manager's DM)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot import cli
from bot.sandbox.slack_standin import FakeSlack
from models import audit
from models.audit import AuditEvent
from models.audit_export import FIELDS
from models.release.records import Release
from scheduler.clock import _logged
from tests.handlers.api.conftest import api, make_token
from tests.support.harness import Harness, ahead, iso

MANAGER = "U_PM"
PRIVATE = "G_SECRET"

# What a hostile person can type, and what a spreadsheet would run as a formula.
HOSTILE = [
    '=HYPERLINK("https://evil.example","click"),"quoted"',
    "+1+cmd|' /C calc'!A0",
    "-2-3",
    "@SUM(A1:A9)",
    'line one\nline two\r\nthree, with commas; and "quotes"',
    "<!channel> *bold* & <@U_EVIL> \x07 ünïcødé ✓",
    # Starts with the guard itself: guarded too, or stripping one ' would change it.
    "'=1+1",
    "'quoted already",
]


@pytest.fixture
def harness(database_url: str, fake_slack: FakeSlack) -> Iterator[Harness]:
    with Harness(database_url, fake_slack, RELEASEBOT_RELEASE_MANAGERS=MANAGER) as running:
        yield running


def all_events(harness: Harness, team_id: str | None = None) -> list[AuditEvent]:
    with harness.session() as session:
        statement = select(AuditEvent).order_by(AuditEvent.id)  # type: ignore[arg-type]
        if team_id is not None:
            statement = statement.where(AuditEvent.team_id == team_id)
        return list(session.exec(statement))


def private_release_ids(harness: Harness) -> set[int]:
    with harness.session() as session:
        return {r.id for r in session.exec(select(Release)) if r.private and r.id is not None}


def parse_csv(data: bytes) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))
    assert tuple(reader.fieldnames or ()) == FIELDS
    return list(reader)


def parse_jsonl(data: bytes) -> list[dict[str, Any]]:
    lines = data.decode("utf-8").split("\n")
    assert lines[-1] == ""  # every record ends its line
    return [json.loads(line) for line in lines[:-1]]


def unformula(cell: str) -> str:
    """A CSV cell as it was recorded, undone as the README says: strip one leading '."""
    return cell.removeprefix("'")


def history(harness: Harness) -> None:
    """A little of everything: Slack steps, events about no release (managers, policy,
    freezes, tokens), hostile text, a private release, the API, another workspace."""
    harness.command(f"propose payments 2.4.0 {iso(ahead())} <@U_QA|qa>")
    harness.command(f"propose checkout 1.0 {iso(ahead())}")
    harness.command(f"propose vault 9.9 {iso(ahead())} <@U_QA|qa>", channel_id=PRIVATE)
    assert harness.release("vault@9.9").private
    harness.command(f"cancel checkout@1.0 {HOSTILE[0]}\n{HOSTILE[4]}")
    harness.command("managers add <@U_SEC|sec>", user_id=MANAGER)
    harness.command("policy payments set window 2h", user_id=MANAGER)
    harness.command(f'freeze add "Year end" now to {iso(ahead(5))}', user_id=MANAGER)
    raw = make_token(harness, "ci")
    with api(harness, raw) as http:
        gate = http.get("/gate", params={"service": "payments", "version": "2.4.0"})
        assert gate.status_code == 200, gate.text
    now = datetime.now(UTC)
    with harness.session() as session:
        for i, text in enumerate(HOSTILE):
            audit.record(
                session,
                team_id="T0001",
                release_id=None,
                actor_id="U_OWNER",
                action="policy_set",
                before={"value": text, "n": i},
                after={"value": text[::-1], "nested": {"list": [text, None, 1.5]}},
                detail=text,
                at=now,
                source="api:" + text[:20],
            )
        audit.record(
            session,
            team_id="T_OTHER",
            release_id=None,
            actor_id="U_ELSE",
            action="manager_added",
            after={"manager": "U_ELSE"},
            at=now,
        )


def cli_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, *args: str) -> bytes:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("DATABASE_URL", url)
    out = tmp_path / "export.out"
    assert cli.main(["audit", "export", *args, "--output", str(out)]) == 0
    assert not (tmp_path / "export.out.partial").exists()
    return out.read_bytes()


@pytest.mark.clock
@pytest.mark.both_databases
def test_the_command_line_exports_every_event_as_csv_and_jsonl(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    history(harness)
    events = all_events(harness)
    assert any(e.release_id is None for e in events)
    assert {e.team_id for e in events} == {"T0001", "T_OTHER"}

    rows = parse_csv(cli_export(tmp_path, monkeypatch, database_url, "--format", "csv"))
    records = parse_jsonl(cli_export(tmp_path, monkeypatch, database_url, "--format", "jsonl"))
    # Complete: as many rows as events, the same ones, in the order they were recorded.
    assert len(rows) == len(records) == len(events)
    assert [int(r["id"]) for r in rows] == [e.id for e in events]
    assert [r["id"] for r in records] == [e.id for e in events]

    refs = {}
    with harness.session() as session:
        refs = {r.id: r.ref for r in session.exec(select(Release))}
    for event, row, record in zip(events, rows, records, strict=True):
        ref = refs.get(event.release_id) if event.release_id else None
        time = event.at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        assert record == {
            "id": event.id,
            "time": time,
            "workspace": event.team_id,
            "actor": event.actor_id,
            "action": event.action,
            "release": ref,
            "before": event.before,
            "after": event.after,
            "reason": event.detail,
            "source": event.source,
        }
        assert datetime.fromisoformat(row["time"]) == event.at
        assert row["workspace"] == event.team_id and row["action"] == event.action
        assert row["release"] == (ref or "")
        assert unformula(row["reason"]) == event.detail
        assert unformula(row["source"]) == event.source
        for field in ("before", "after"):
            value = getattr(event, field)
            assert (json.loads(row[field]) if row[field] else None) == value

    # No cell a spreadsheet would run: each that starts with = + - @ is guarded.
    cells = [cell for row in rows for cell in row.values()]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]
    assert "'" + HOSTILE[0] in cells and "'-2-3" in cells and "'@SUM(A1:A9)" in cells
    assert HOSTILE[4] in cells  # newlines, commas and quotes survive the round trip

    # Filters: a workspace, a service, a time range.
    only = parse_csv(cli_export(tmp_path, monkeypatch, database_url, "--team", "T_OTHER"))
    assert [r["action"] for r in only] == ["manager_added"]
    by_service = ("--service", "payments", "--format", "jsonl")
    payments = parse_jsonl(cli_export(tmp_path, monkeypatch, database_url, *by_service))
    assert payments and {r["release"] for r in payments} == {"payments@2.4.0"}
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    assert parse_csv(cli_export(tmp_path, monkeypatch, database_url, "--since", future)) == []
    until = parse_csv(cli_export(tmp_path, monkeypatch, database_url, "--until", future))
    assert len(until) == len(events)


def test_each_event_says_where_it_came_from(harness: Harness) -> None:
    history(harness)
    events = all_events(harness, "T0001")
    proposed = [e for e in events if e.action == "proposed"]
    assert proposed and {e.source for e in proposed} == {"slack"}
    # (The policy_set events without a release are the test's own, with hostile sources.)
    by_action = {e.action: e.source for e in events if e.release_id or e.action != "policy_set"}
    assert by_action["manager_added"] == "slack" and by_action["freeze_added"] == "slack"
    assert by_action["cancelled"] == "slack"
    assert by_action["gate_checked"] == "api:ci"
    # Work the scheduler runs (sweeps, reminders) records "scheduler".
    with harness.session() as session:
        _logged(
            "test",
            lambda: audit.record(
                session, team_id="T0001", release_id=None, actor_id="system", action="swept"
            ),
        )()
    assert all_events(harness)[-1].source == "scheduler"


def test_the_command_line_refuses_bad_dates_and_names_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    assert cli.main(["audit", "export", "--since", "yesterday"]) == 2
    assert "“yesterday” is not a date" in capsys.readouterr().err
    assert cli.main(["audit", "export", "--since", "2026-12-01", "--until", "2026-11-01"]) == 2
    assert "the start is not before the end" in capsys.readouterr().err
    assert cli.main(["audit", "export", "--until", "9999-12-31T23:00-05:00"]) == 2
    assert "is out of range" in capsys.readouterr().err
    assert cli.main(["audit", "export", "--service", "Bad Name!"]) == 2
    monkeypatch.setenv("DATABASE_URL", "mysql://nope")
    assert cli.main(["audit", "export"]) == 2
    assert "DATABASE_URL must be" in capsys.readouterr().err


def test_the_api_streams_the_tokens_workspace_without_private_releases(harness: Harness) -> None:
    history(harness)
    raw = make_token(harness, "auditor", owner=MANAGER)
    with api(harness, raw) as http:
        answer = http.get("/audit", params={"format": "jsonl"})
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/jsonl")
        # Streamed: sent in chunks as it is read, not measured up front.
        assert "content-length" not in answer.headers
        assert answer.headers.get("transfer-encoding") == "chunked"
        records = parse_jsonl(answer.content)
        as_csv = http.get("/audit")
        assert as_csv.status_code == 200
        assert as_csv.headers["content-type"].startswith("text/csv")
        assert 'filename="audit-T0001-' in as_csv.headers["content-disposition"]
        rows = parse_csv(as_csv.content)

    hidden = private_release_ids(harness)
    assert hidden
    # The first request recorded its own export (included); the second one's came after.
    expected = [e for e in all_events(harness, "T0001") if e.release_id not in hidden]
    assert [r["id"] for r in records] == [e.id for e in expected[:-1]]
    assert [int(r["id"]) for r in rows] == [e.id for e in expected]
    assert records[-1]["action"] == "audit_exported" and records[-1]["source"] == "api:auditor"
    assert not any(r["release"] == "vault@9.9" for r in records)
    assert all(r["workspace"] == "T0001" for r in records)


def test_a_token_limited_to_services_sees_their_events_only(harness: Harness) -> None:
    history(harness)
    raw = make_token(harness, "deploy-payments", ("payments",), owner=MANAGER)
    with api(harness, raw) as http:
        records = parse_jsonl(http.get("/audit", params={"format": "jsonl"}).content)
        assert records and {r["release"] for r in records} == {"payments@2.4.0"}
        outside = http.get("/audit", params={"service": "checkout"})
        assert outside.status_code == 403 and outside.json()["error"] == "token_scope"
        inside = http.get("/audit", params={"service": "payments", "since": "1d"})
        assert inside.status_code == 200
        assert {r["release"] for r in parse_csv(inside.content)} == {"payments@2.4.0"}


def test_the_api_refuses_what_it_cannot_read(harness: Harness) -> None:
    raw = make_token(harness, "ci", owner=MANAGER)
    with api(harness) as anonymous:
        assert anonymous.get("/audit").status_code == 401
    with api(harness, raw) as http:
        bad = http.get("/audit", params={"since": "last tuesday"})
        assert bad.status_code == 422 and bad.json()["error"] == "audit_date_invalid"
        empty = http.get("/audit", params={"since": "2026-12-01", "until": "2026-11-01"})
        assert empty.status_code == 422 and empty.json()["error"] == "audit_range_empty"
        assert http.get("/audit", params={"format": "xlsx"}).status_code == 422
        assert http.get("/audit", params={"service": "Not A Service!"}).status_code == 422
        document = http.get("/openapi.json").json()
    answer = document["paths"]["/audit"]["get"]["responses"]["200"]["content"]
    assert set(answer) == {"text/csv", "application/jsonl"}
    assert "source" in answer["application/jsonl"]["schema"]["properties"]
    names = {p["name"] for p in document["paths"]["/audit"]["get"]["parameters"]}
    assert {"since", "until", "service", "format"} <= names


def test_a_release_manager_gets_the_csv_in_a_dm(harness: Harness) -> None:
    history(harness)
    reply = harness.private_reply(harness.command("audit", user_id=MANAGER))
    assert "Sent you the audit export" in reply
    # Shared in the DM conversations.open gave (Slack takes no user id as channel_id).
    complete = harness.slack.last("files.completeUploadExternal")
    assert str(complete.args["channel_id"]).startswith("D")
    (shared,) = harness.slack.files(str(complete.args["channel_id"]))
    assert shared["name"].startswith("audit-T0001-") and shared["name"].endswith(".csv")
    assert "private releases included" in shared["initial_comment"]
    rows = parse_csv(shared["content"])
    # Everything in the workspace, private releases too, and this export itself.
    events = all_events(harness, "T0001")
    assert [int(r["id"]) for r in rows] == [e.id for e in events]
    assert any(r["release"] == "vault@9.9" for r in rows)
    assert rows[-1]["action"] == "audit_exported" and rows[-1]["source"] == "slack"
    assert f"({len(rows)} audit events)" in reply

    harness.command("audit payments 1d", user_id=MANAGER)
    latest = harness.slack.files(str(complete.args["channel_id"]))[-1]
    assert {r["release"] for r in parse_csv(latest["content"])} == {"payments@2.4.0"}


def test_others_are_refused_privately_and_get_no_file(harness: Harness) -> None:
    history(harness)
    refused = harness.private_reply(harness.command("audit", user_id="U_OTHER"))
    assert "Only release managers can export the audit trail" in refused
    assert harness.slack.calls("files.getUploadURLExternal") == []
    assert harness.slack.files() == []
    bad = harness.private_reply(harness.command("audit payments last-week", user_id=MANAGER))
    assert "“last-week” is not a date" in bad
    too_many = harness.private_reply(harness.command("audit a b c", user_id=MANAGER))
    assert "Usage: `/release audit" in too_many
    hostile = harness.private_reply(harness.command("audit <!channel> 30d", user_id=MANAGER))
    assert "is not a service name" in hostile, hostile
    assert "<!channel>" not in hostile
    assert harness.slack.files() == []


@pytest.mark.clock
def test_audit_commands_and_dates_are_read_as_written() -> None:
    from handlers.slack_kit.parsing import AuditExport, parse
    from handlers.slack_kit.refused import Refused
    from models.audit_export import parse_moment
    from models.errors import InvalidInput

    assert parse("audit") == AuditExport()
    assert parse("audit payments") == AuditExport("payments")
    assert parse("audit 30d") == AuditExport(since="30d")
    assert parse("audit 2026-11-01") == AuditExport(since="2026-11-01")
    assert parse("AUDIT payments 2026-11-01T09:00Z") == AuditExport("payments", "2026-11-01T09:00Z")
    with pytest.raises(Refused):
        parse("audit payments 30d extra")

    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert parse_moment("2026-11-01", now=now) == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_moment("2026-11-01T09:00+01:00", now=now) == datetime(2026, 11, 1, 8, tzinfo=UTC)
    assert parse_moment("2026-11-01T09:00", now=now) == datetime(2026, 11, 1, 9, tzinfo=UTC)
    assert parse_moment("30d", now=now) == now - timedelta(days=30)
    assert parse_moment("12H", now=now) == now - timedelta(hours=12)
    for bad in ("yesterday", "2026-13-01", "2026", "", "30x", "=cmd"):
        with pytest.raises(InvalidInput):
            parse_moment(bad, now=now)
