"""`/release verify <service> <digest>`: answered privately, from what the person may see."""

from __future__ import annotations

from typing import Any

from handlers.deps import Deps
from handlers.rendering.channel_messages import private_answer
from handlers.rendering.pin_messages import verify_blocks
from handlers.slack_kit import parsing
from models.release import pins
from models.release.proposing import clean_digest, clean_service
from models.release.queries import Actor


def reply_to(deps: Deps, actor: Actor, command: parsing.Verify) -> dict[str, Any]:
    with deps.db.read_session() as session:
        found = pins.by_digest(
            session, actor.team_id, command.service, command.digest, actor.reader
        )
        service, digest = clean_service(command.service), clean_digest(command.digest) or ""
        blocks = verify_blocks(service, digest, found)
    return private_answer(blocks, f"Verify {digest[:19]}")
