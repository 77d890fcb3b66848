"""One release, read; and a release proposed, as /release propose does."""

import hashlib
import uuid
from contextlib import suppress
from datetime import datetime, timedelta

from fastapi import APIRouter
from starlette.responses import Response

from handlers.api.api_deps import ApiContext, Context, Idempotent, Now, ReadSession, Token
from handlers.api.api_errors import COMMON, ApiProblem, problem
from handlers.api.schemas import ProposeIn, ProposeOut, ReleaseOut
from handlers.flows.changes import NotShownYet
from handlers.flows.new_release import conflicts_for, create_release
from handlers.rendering import conflict_notes
from handlers.slack_kit import directory
from handlers.slack_kit.mrkdwn import to_plain
from models import audit
from models.api.api_tokens import ApiToken
from models.release import queries
from models.release.proposing import ApproverSpec, Proposal
from models.release.records import ApproverKind
from models.release.visibility import PUBLIC_READER

DEFAULT_TARGET = timedelta(hours=1)

router = APIRouter(responses=COMMON)


@router.get(
    "/releases/{service}@{version}",
    responses={404: problem("no such release the token may see")},
    summary="One release: status, stage, sign-offs, checklist and history",
)
def get_release(service: str, version: str, token: Token, session: ReadSession) -> ReleaseOut:
    token.require_scope(service)
    release = queries.by_name(session, token.team_id, service, version, PUBLIC_READER)
    assert release.id is not None
    return ReleaseOut.of(queries.load_view(session, release), audit.history(session, release.id))


@router.post(
    "/releases",
    response_model=ProposeOut,
    status_code=201,
    responses={
        409: problem(
            "the release exists already, or a request with this Idempotency-Key is still running"
        ),
    },
    summary="Propose a release, as /release propose does",
)
def propose(
    body: ProposeIn, context: Context, token: Token, now: Now, idempotent: Idempotent
) -> Response:
    token.require_scope(body.service)
    return idempotent.run(
        "/releases",
        body.model_dump(mode="json"),
        lambda key: (201, _propose(context, token, body, key, now).model_dump(mode="json")),
    )


def _propose(
    context: ApiContext, token: ApiToken, body: ProposeIn, key: str | None, now: datetime
) -> ProposeOut:
    deps, client = context.deps, context.client
    approvers = [
        ApproverSpec(a, ApproverKind.USERGROUP if a.startswith("S") else ApproverKind.USER)
        for a in dict.fromkeys(body.approvers)
    ]
    # Real, active people and groups, as `/release propose` checks them; the policy, the
    # owner rule and four eyes are the proposal's (create_release), as for every surface.
    approvers = directory.check_approvers(client, approvers)
    # Names the release this request creates, so a retry (or the answer after Slack
    # failed to take its card) finds it.
    basis = f"{token.id}:{key}" if key is not None else uuid.uuid4().hex
    request_key = "api:" + hashlib.sha256(basis.encode()).hexdigest()[:40]
    proposal = Proposal(
        team_id=token.team_id,
        owner_id=token.owner_id,
        channel_id=body.channel,
        service=body.service,
        version=body.version,
        target_at=body.target_at or now + DEFAULT_TARGET,
        approvers=approvers,
        notes=body.notes,
        request_key=request_key,
        pipeline_url=body.pipeline_url,
        commit_sha=body.commit_sha,
        digest=body.digest,
        committed_at=body.committed_at,
        fix=body.fix,
        fixes=body.fixes,
        reader=PUBLIC_READER,  # a token sees public releases only, whoever it acts for
        via=f'via API token "{token.name}"',
    )
    # NotShownYet: the release stands; its card follows when Slack takes it (url is null).
    with suppress(NotShownYet):
        create_release(deps, client, proposal)
    with deps.db.read_session() as session:
        release = queries.by_request_key(session, request_key)
    if release is None:  # removed again: Slack refused its card for good (said above)
        raise ApiProblem(502, "slack_refused", "Slack refused the release's card.")
    assert release.id is not None
    # Worded as a token reads them: a private release it collides with is not named.
    warnings = conflict_notes.lines(conflicts_for(deps, release.id, PUBLIC_READER))
    return ProposeOut(
        ref=release.ref,
        id=release.uid,
        status=release.state,
        url=release.permalink,
        warnings=[to_plain(w) for w in warnings],
    )
