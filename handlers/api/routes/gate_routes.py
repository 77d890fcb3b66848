"""The deploy gate: may this version be deployed now? It long-polls when asked to wait."""

import asyncio
from contextlib import suppress
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from handlers.api.api_deps import Context, Token
from handlers.api.api_errors import COMMON
from handlers.api.schemas import GateOut, GateReason, ReleaseOut
from models import audit
from models.api import gate as gate_rules
from models.release import proposing, queries

MAX_GATE_WAIT = 900  # seconds a gate request may wait
GATE_RECHECK = 2.0  # seconds between re-checks while waiting (other processes' changes)

router = APIRouter(responses=COMMON)


@router.get(
    "/gate",
    summary="The deploy gate: may this version be deployed now? (long-polls with wait)",
)
async def gate(
    context: Context,
    token: Token,
    service: Annotated[str, Query(max_length=200)],
    version: Annotated[str, Query(max_length=200)],
    wait: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_GATE_WAIT,
            description="seconds to wait for the decision to change before answering",
        ),
    ] = 0,
    digest: Annotated[
        str | None, Query(max_length=200, description="the artifact deployed: sha256:…")
    ] = None,
    commit: Annotated[
        str | None, Query(max_length=100, description="the commit deployed (7 to 40 hex digits)")
    ] = None,
) -> GateOut:
    token.require_scope(service)
    service = proposing.clean_service(service)
    version = version.strip()
    # Malformed pins are refused (422) before any wait.
    digest, commit = proposing.clean_digest(digest), proposing.clean_commit(commit)
    deps, waits = context.deps, context.waits
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait

    def answer() -> tuple[gate_rules.Verdict, ReleaseOut | None]:
        with deps.db.read_session() as session:
            verdict = gate_rules.evaluate(
                session,
                token.team_id,
                service,
                version,
                deps.clock(),
                waiting=wait > 0,
                digest=digest,
                commit=commit,
            )
            release = verdict.release
            if release is None:
                return verdict, None
            assert release.id is not None
            view = queries.load_view(session, release)
            return verdict, ReleaseOut.of(view, audit.history(session, release.id))

    # Pipelines that wait often arrive together and re-check together: one read for all.
    # The verdict and the release it shows come from one read, so an answer after a
    # change is what that re-check found, never a copy kept from before the change.
    shared_key = (token.team_id, service, version, f"answer {digest} {commit}")
    if wait > 0:
        first, out = await waits.reads.read(shared_key, answer)
    else:
        first, out = await run_in_threadpool(answer)
    verdict = first
    # Only `pending` waits: `allow` and `deny` are what the pipeline waits for.
    if wait > 0 and first.decision == gate_rules.Decision.PENDING:
        with waits.waiting(token.team_id, service) as changed:
            while not waits.stopping and (left := deadline - loop.time()) > 0:
                with suppress(TimeoutError):
                    # On the clock's tick, not each waiter's own: waiters of one
                    # release then re-check together, with one shared read.
                    tick = GATE_RECHECK - loop.time() % GATE_RECHECK
                    await asyncio.wait_for(changed.wait(), min(left, tick))
                changed.clear()
                verdict, out = await waits.reads.read(shared_key, answer)
                if (verdict.decision, verdict.codes) != (first.decision, first.codes):
                    break
            # Stopping (GateWaits.stop): the answer is what the last re-check found.
    await asyncio.wrap_future(
        context.gate_audit.record(
            team_id=token.team_id,
            release_id=verdict.release.id if verdict.release is not None else None,
            actor_id=token.owner_id,
            action="gate_checked",
            after={
                "ref": f"{service}@{version}",
                "decision": verdict.decision.value,
                "reasons": list(verdict.codes),
                "token": token.name,
            },
            detail=verdict.decision.value,
            at=deps.clock(),
            source=audit.api_source(token.name),
        )
    )
    return GateOut(
        decision=verdict.decision.value,
        reasons=[GateReason(code=code.value, message=text) for code, text in verdict.reasons],
        release=out,
    )
