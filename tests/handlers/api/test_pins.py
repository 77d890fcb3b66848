"""What deploys is what was approved, through the API: a release's artifact digest and
commit, the gate's pins, sign-offs cleared when they change, and what a version was."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx

from handlers.slack_kit import ids
from tests.handlers.api.conftest import MANAGER, api, make_token
from tests.support.harness import CHANNEL, Harness

REF = "payments@2.4.0"
DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "cd" * 32
COMMIT = "0123456789abcdef0123456789abcdef01234567"
BODY = {
    "service": "payments",
    "version": "2.4.0",
    "channel": CHANNEL,
    "approvers": ["U_QA"],
    "commit_sha": COMMIT,
    "digest": DIGEST,
}


def gate(client: httpx.Client, **params: str) -> dict[str, Any]:
    answer = client.get("/gate", params={"service": "payments", "version": "2.4.0", **params})
    assert answer.status_code == 200, answer.text
    return answer.json()


def reasons(body: dict[str, Any]) -> dict[str, str]:
    return {r["code"]: r["message"] for r in body["reasons"]}


def ready(harness: Harness) -> None:
    """Signed off, checklist ticked, go given: the gate allows it."""
    release = harness.release(REF)
    harness.click(harness.card(release), ids.APPROVE, user_id="U_QA")
    for position in range(5):
        harness.tick(harness.release(REF), position)
    harness.command(f"go {REF}")


def test_a_digest_is_proposed_shown_and_pinned_at_the_gate(harness: Harness) -> None:
    client = api(harness, make_token(harness))
    proposed = client.post(
        "/releases", json=BODY | {"digest": DIGEST.upper().replace("SHA", "sha")}
    )
    assert proposed.status_code == 201, proposed.text
    assert client.get(f"/releases/{REF}").json()["digest"] == DIGEST  # kept in lower case
    assert DIGEST in str(harness.card(harness.release(REF))["blocks"])
    ready(harness)

    assert gate(client, digest=DIGEST, commit=COMMIT)["decision"] == "allow"
    assert gate(client, commit=COMMIT[:7])["decision"] == "allow"  # abbreviated: one commit
    wrong = gate(client, digest=OTHER_DIGEST, commit="f" * 40)
    assert wrong["decision"] == "deny"
    named = reasons(wrong)
    assert set(named) == {"DIGEST_MISMATCH", "COMMIT_MISMATCH"}
    assert OTHER_DIGEST in named["DIGEST_MISMATCH"] and DIGEST in named["DIGEST_MISMATCH"]
    assert "f" * 40 in named["COMMIT_MISMATCH"] and COMMIT in named["COMMIT_MISMATCH"]


def test_malformed_digests_are_refused_clearly(harness: Harness) -> None:
    client = api(harness, make_token(harness))
    for bad in ("sha256:abc", "md5:" + "ab" * 32, "ab" * 32, "sha256:" + "zz" * 32):
        refused = client.post("/releases", json=BODY | {"digest": bad})
        assert refused.status_code == 422, refused.text
        body = refused.json()
        assert (body["error"], body.get("field")) == ("digest_invalid", "digest")
        assert "sha256:" in body["message"] and "64 hexadecimal digits" in body["message"]
    assert harness.releases() == []
    client.post("/releases", json=BODY)
    at_gate = client.get(
        "/gate", params={"service": "payments", "version": "2.4.0", "digest": "sha256:1"}
    )
    assert at_gate.status_code == 422 and at_gate.json()["error"] == "digest_invalid"
    bad_commit = client.get(
        "/gate", params={"service": "payments", "version": "2.4.0", "commit": "nothex"}
    )
    assert bad_commit.status_code == 422 and bad_commit.json()["error"] == "commit_invalid"


def test_a_digest_or_commit_change_clears_the_sign_offs(harness: Harness) -> None:
    client = api(harness, make_token(harness))
    client.post("/releases", json=BODY)
    harness.click(harness.card(harness.release(REF)), ids.APPROVE, user_id="U_QA")
    assert client.get(f"/releases/{REF}").json()["status"] == "approved"

    harness.command(f"update {REF} digest={OTHER_DIGEST}")
    out = client.get(f"/releases/{REF}").json()
    assert (out["status"], out["digest"]) == ("proposed", OTHER_DIGEST)
    assert [s["state"] for s in out["sign_offs"]] == ["pending"]
    assert "NOT_APPROVED" in reasons(gate(client, digest=OTHER_DIGEST))
    assert gate(client, digest=DIGEST)["decision"] == "deny"  # the old artifact: never

    harness.click(harness.card(harness.release(REF)), ids.APPROVE, user_id="U_QA")
    harness.command(f"update {REF} commit={'e' * 40}")
    out = client.get(f"/releases/{REF}").json()
    assert (out["status"], out["commit_sha"]) == ("proposed", "e" * 40)
    assert [s["state"] for s in out["sign_offs"]] == ["pending"]

    # Notes alone leave the sign-offs standing.
    harness.click(harness.card(harness.release(REF)), ids.APPROVE, user_id="U_QA")
    harness.command(f"update {REF} notes=runbook linked")
    assert client.get(f"/releases/{REF}").json()["status"] == "approved"

    # The audit export shows the digest before and after.
    export = api(harness, make_token(harness, "audit", owner=MANAGER)).get(
        "/audit", params={"format": "csv"}
    )
    assert export.status_code == 200, export.text
    rows = list(csv.DictReader(io.StringIO(export.text)))
    changed = [r for r in rows if r["action"] == "updated" and OTHER_DIGEST in r["after"]]
    assert DIGEST in changed[0]["before"]  # the first change of digest


def test_a_version_answers_its_commit_digest_approvers_and_production_time(
    harness: Harness,
) -> None:
    client = api(harness, make_token(harness))
    assert client.get("/services/payments/versions/2.4.0").status_code == 404
    client.post("/releases", json=BODY)
    ready(harness)
    before = client.get("/services/payments/versions/2.4.0").json()
    assert (before["commit_sha"], before["digest"], before["in_production_at"]) == (
        COMMIT,
        DIGEST,
        None,
    )
    assert [(a["who"], a["signed_by"]) for a in before["approved_by"]] == [("U_QA", "U_QA")]
    harness.command(f"done {REF}")
    after = client.get("/services/payments/versions/2.4.0").json()
    assert after["status"] == "released" and after["in_production_at"] is not None
    history = client.get("/services/payments/releases").json()["releases"]
    assert [(r["ref"], r["digest"]) for r in history] == [(REF, DIGEST)]

    # A private release reads as a missing one; a token limited to other services: 403.
    harness.command("propose ledger 1.0 tomorrow 14:00", channel_id="G_SECRET")
    assert client.get("/services/ledger/versions/1.0").status_code == 404
    other = api(harness, make_token(harness, "other", ("checkout",)))
    assert other.get("/services/payments/versions/2.4.0").status_code == 403
