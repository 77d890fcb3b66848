"""`releasebot serve | sandbox | db upgrade | token create | gate | report | audit export`:
the console script."""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import re
import signal
import sys
import threading
from types import FrameType

from bot import audit_cli, pipeline_cli
from bot.settings import (
    SettingsError,
    github_app_settings,
    load_settings,
    require_mode_settings,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="releasebot", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the bot (HTTP mode, or Socket Mode with --socket)")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=None, help="default: $PORT or 3000")
    serve.add_argument("--socket", action="store_true", help="use Socket Mode (SLACK_APP_TOKEN)")
    sandbox = sub.add_parser(
        "sandbox",
        help="try it without Slack: the real bot and a local workspace page in your browser",
    )
    sandbox.add_argument("--port", type=int, default=3000, help="default: 3000")
    sandbox.add_argument(
        "--db", default=None, help="SQLite file to keep (default: one in a temporary folder)"
    )
    db = sub.add_parser("db", help="database commands")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply pending migrations")
    db_sub.add_parser("current", help="show the database's migration revision")
    token = sub.add_parser("token", help="API tokens (for set-up scripts)")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser(
        "create", help="create an API token and print it (once: only its hash is kept)"
    )
    create.add_argument("--team", required=True, help="the workspace id, T…")
    create.add_argument("--name", required=True, help="the token's name, e.g. ci")
    create.add_argument(
        "--owner",
        required=True,
        help="the Slack user (U…) the token acts for: releases it proposes are theirs",
    )
    create.add_argument(
        "--service",
        action="append",
        default=[],
        help="limit the token to this service (repeat for more; default: all services)",
    )
    pipeline_cli.add_commands(sub)
    audit_cli.add_commands(sub)
    args = parser.parse_args(argv)
    if args.command in ("gate", "report"):  # a pipeline's commands: no bot settings needed
        return pipeline_cli.run(args)
    if args.command == "sandbox":  # sets its own settings: no token, no Slack
        return _sandbox(args.port, args.db)
    if args.command == "audit":  # the database alone
        return audit_cli.run(args)

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = load_settings()
        if args.command == "serve":
            require_mode_settings(settings, socket_mode=args.socket)
            github_app_settings(settings)
    except SettingsError as error:
        print(f"releasebot: {error}", file=sys.stderr)
        return 2

    if args.command == "db":
        return _db(args.db_command, settings.database_url)
    if args.command == "token":
        return _create_token(args, settings.database_url)
    return _serve(settings, args.host, args.port or settings.port, args.socket)


def _db(command: str, url: str) -> int:
    from bot import migrate
    from models.db import make_engine

    engine = make_engine(url)
    try:
        if command == "upgrade":
            migrate.upgrade(engine)
            print(f"database is at revision {migrate.head_revision()}")
        else:
            with engine.connect() as connection:
                print(migrate.current_revision(connection) or "empty")
    except Exception as error:  # an unreachable database is a setup problem, not a bug
        print(f"releasebot: database {url.split('@')[-1]}: {error}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return 0


_TEAM = re.compile(r"^[TE][A-Z0-9]+$")
_USER = re.compile(r"^[UW][A-Z0-9_]+$")


def _create_token(args: argparse.Namespace, url: str) -> int:
    from handlers.rendering.refusals import text_for
    from handlers.slack_kit.mrkdwn import to_plain
    from models import audit
    from models.api import api_tokens
    from models.db import Database
    from models.errors import DomainError

    if not _TEAM.match(args.team):
        print(f"releasebot: --team {args.team!r} is not a workspace id (T…)", file=sys.stderr)
        return 2
    if not _USER.match(args.owner):
        print(f"releasebot: --owner {args.owner!r} is not a user id (U…)", file=sys.stderr)
        return 2
    db = Database(url)
    try:
        with audit.acting_from(audit.CLI), db.session() as session:
            token, raw = api_tokens.issue(
                session,
                args.team,
                args.name,
                owner_id=args.owner,
                created_by=api_tokens.CLI_ACTOR,
                services=args.service,
            )
    except DomainError as error:
        print(f"releasebot: token not created: {to_plain(text_for(error))}", file=sys.stderr)
        return 1
    except Exception as error:  # an unreachable database is a setup problem, not a bug
        print(f"releasebot: database {url.split('@')[-1]}: {error}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    scope = ", ".join(token.scope) or "all services"
    print(
        f"releasebot: API token {token.name} ({scope}) created; it is shown this once:",
        file=sys.stderr,
    )
    print(raw)
    return 0


def _serve(settings: object, host: str, port: int, socket_mode: bool) -> int:
    import uvicorn

    from bot import migrate
    from bot.app import create_releasebot
    from bot.settings import Settings
    from bot.web import create_web_app
    from handlers.calendar_feed.route import RedactFeedTokens
    from handlers.slack_kit import times

    assert isinstance(settings, Settings)
    releasebot = create_releasebot(settings)
    try:
        migrate.upgrade(releasebot.db.engine)
    except Exception as error:
        print(f"releasebot: cannot migrate the database: {error}", file=sys.stderr)
        return 1
    releasebot.scheduler.start()  # rebuilt from the database; catches up on missed reminders
    # dateparser takes about a second to import and parse its first time: here, not in
    # the first `/release propose … tomorrow 14:00`'s ack.
    times.warm_up()
    # Everything loaded so far lives as long as the process: keep it out of the garbage
    # collector's way, so full collections stay short and don't stall acks.
    gc.collect()
    gc.freeze()
    web = create_web_app(
        releasebot.bolt,
        releasebot.db,
        deps=releasebot.deps,
        api_rate_per_minute=settings.api_rate_per_minute,
        github=releasebot.github.events if releasebot.github else None,
    )
    if socket_mode:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        handler = SocketModeHandler(releasebot.bolt, settings.slack_app_token)
        threading.Thread(target=handler.start, name="socket-mode", daemon=True).start()
    config = uvicorn.Config(web, host=host, port=port, log_level="info", access_log=False)
    # After uvicorn has set up its loggers: calendar links must not end up in the logs.
    logging.getLogger("uvicorn.access").addFilter(RedactFeedTokens())
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again for the
    # previous handler: make that handler end the process through `finally`, so in-flight
    # background work and the scheduler stop cleanly and the exit status is 0.
    signal.signal(signal.SIGTERM, _exit_quietly)
    on_stopping = web.state.on_stopping

    class Server(uvicorn.Server):
        """Ends the gate's long-polls as it starts to stop, so they don't hold it up."""

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            for stop in on_stopping:
                stop()
            super().handle_exit(sig, frame)

    try:
        Server(config).run()
    except SystemExit:
        pass
    finally:
        releasebot.close()
    return 0


def _sandbox(port: int, db: str | None) -> int:
    from pathlib import Path

    from bot.sandbox.workspace import Sandbox

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        sandbox = Sandbox(port=port, db=Path(db) if db else None)
    except OSError as error:
        print(f"releasebot: cannot listen on 127.0.0.1:{port}: {error.strerror}", file=sys.stderr)
        return 1
    try:
        sandbox.start_bot()
        server = sandbox.server()
        print(sandbox.url, flush=True)
        signal.signal(signal.SIGTERM, _exit_quietly)
        with contextlib.suppress(SystemExit, KeyboardInterrupt):
            server.run(sockets=[sandbox.sock])
    finally:
        sandbox.close()
    return 0


def _exit_quietly(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


if __name__ == "__main__":
    sys.exit(main())
