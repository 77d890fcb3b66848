"""`GET /services/{service}/versions/{version}`: what was released under a version (its
commit, its artifact digest, who approved it, when it reached production), for an
auditor or a pipeline checking what it deploys. Public releases only, as every API read."""

# No `from __future__ import annotations`: FastAPI reads these signatures at run time.

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from handlers.api.api_deps import ReadSession, Token
from handlers.api.api_errors import COMMON
from handlers.api.schemas import ApiError
from models.release import pins
from models.release.records import ApproverKind, ReleaseStatus
from models.release.visibility import PUBLIC_READER


class ApprovedBy(BaseModel):
    who: str = Field(description="the approver: a Slack user (U…) or user group (S…) id")
    kind: ApproverKind
    signed_by: str | None = Field(description="who signed (for a group: which member)")
    at: datetime | None = Field(description="when it was signed, ISO 8601 UTC")


class VersionOut(BaseModel):
    ref: str = Field(description="service@version")
    id: str = Field(description="the release's uid")
    service: str
    version: str
    status: ReleaseStatus
    commit_sha: str | None
    digest: str | None = Field(description="the artifact it was approved as, sha256:…")
    approved_by: list[ApprovedBy] = Field(description="the sign-offs given, in order")
    in_production_at: datetime | None = Field(
        description="when it first reached production, ISO 8601 UTC; null if it has not"
    )

    @classmethod
    def of(cls, approved: pins.Approved) -> "VersionOut":
        release = approved.release
        return cls(
            ref=release.ref,
            id=release.uid,
            service=release.service,
            version=release.version,
            status=release.state,
            commit_sha=release.commit_sha,
            digest=release.digest,
            approved_by=[
                ApprovedBy(
                    who=a.slack_id,
                    kind=ApproverKind(a.kind),
                    signed_by=a.signed_by,
                    at=a.signed_at,
                )
                for a in approved.sign_offs
            ],
            in_production_at=approved.in_production_at,
        )


router = APIRouter(responses=COMMON)


@router.get(
    "/services/{service}/versions/{version}",
    response_model=VersionOut,
    responses={404: {"model": ApiError, "description": "no such release the token may see"}},
    summary="What was released under a version: commit, digest, who approved, when it "
    "reached production",
)
def get_version(service: str, version: str, token: Token, session: ReadSession) -> VersionOut:
    token.require_scope(service)
    return VersionOut.of(pins.version(session, token.team_id, service, version, PUBLIC_READER))
