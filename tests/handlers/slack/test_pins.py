"""An artifact digest in Slack: `/release update … digest=`, the Edit form, the card and
the thread, history, and `/release verify`."""

from __future__ import annotations

from handlers.slack_kit import ids
from models import fields
from models.release.records import Approver
from tests.support.harness import OWNER, Harness, ahead, iso, rendered_text

REF = "payments@2.4.0"
DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32


def propose(harness: Harness, channel_id: str = "C_RELEASES") -> None:
    harness.command(f"propose payments 2.4.0 {iso(ahead())} <@U_QA|qa>", channel_id=channel_id)


def approve(harness: Harness) -> None:
    harness.click(harness.card(harness.release(REF)), ids.APPROVE, user_id="U_QA")


def sign_offs(harness: Harness) -> list[str]:
    from sqlmodel import select

    with harness.session() as session:
        release_id = harness.release(REF).id
        rows = session.exec(select(Approver).where(Approver.release_id == release_id))
        return [a.state for a in rows]


def test_update_digest_clears_the_sign_offs_and_shows_on_the_card(harness: Harness) -> None:
    propose(harness)
    approve(harness)
    assert harness.release(REF).status == "approved"
    harness.command(f"update {REF} digest={DIGEST.upper().replace('SHA', 'sha')}")
    release = harness.release(REF)
    assert (release.digest, release.status, sign_offs(harness)) == (DIGEST, "proposed", ["pending"])
    assert DIGEST in rendered_text(harness.card(release))
    thread = "\n".join(harness.thread(release))
    assert f"The digest is now `{DIGEST}`: every sign-off starts again." in thread
    assert "Sign-off needed again from <@U_QA>" in thread

    approve(harness)
    harness.command(f"update {REF} digest=none")
    assert (harness.release(REF).digest, sign_offs(harness)) == (None, ["pending"])


def test_a_malformed_digest_is_refused_clearly(harness: Harness) -> None:
    propose(harness)
    approve(harness)
    for bad in ("sha256:abc", "ab" * 32):
        reply = harness.private_reply(harness.command(f"update {REF} digest={bad}"))
        assert "is not an artifact digest" in reply and "64 hexadecimal digits" in reply
    reply = harness.private_reply(harness.command(f"update {REF} digest="))
    assert "Put one value after `digest=`" in reply
    assert (harness.release(REF).digest, sign_offs(harness)) == (None, ["approved"])


def test_the_edit_form_changes_the_digest_and_refuses_a_malformed_one(harness: Harness) -> None:
    propose(harness)
    approve(harness)
    harness.click(harness.card(harness.release(REF)), ids.EDIT, user_id=OWNER)
    refused = harness.submit_modal(ids.EDIT_FORM, user_id=OWNER, digest="sha256:12")
    assert "is not an artifact digest" in refused.json()["errors"][fields.FIELD_DIGEST]
    assert sign_offs(harness) == ["approved"]
    harness.submit_modal(ids.EDIT_FORM, user_id=OWNER, digest=DIGEST)
    assert (harness.release(REF).digest, sign_offs(harness)) == (DIGEST, ["pending"])
    # The form opens with the digest it has; saved unchanged, it changes nothing.
    harness.click(harness.card(harness.release(REF)), ids.EDIT, user_id=OWNER)
    assert DIGEST in str(harness.slack.last_view(ids.EDIT_FORM)["blocks"])
    unchanged = harness.submit_modal(ids.EDIT_FORM, user_id=OWNER)
    assert "Nothing changed" in unchanged.json()["errors"][fields.FIELD_VERSION]


def test_verify_names_the_release_of_a_digest_or_says_none_is(harness: Harness) -> None:
    propose(harness)
    harness.command(f"update {REF} digest={DIGEST}")
    approve(harness)
    for position in range(5):
        harness.tick(harness.release(REF), position)
    harness.command(f"go {REF}")
    harness.command(f"done {REF}")
    found = harness.private_reply(harness.command(f"verify payments {DIGEST}", user_id="U_X"))
    assert f"`{DIGEST}` belongs to" in found and REF in found
    assert "approved by <@U_QA>" in found and "in production since" in found
    history = harness.private_reply(harness.command("history payments"))
    assert DIGEST[:19] in history

    none = harness.private_reply(harness.command(f"verify payments {OTHER}"))
    assert "No release of *payments* you can see was approved as" in none
    bad = harness.private_reply(harness.command("verify payments sha256:1"))
    assert "is not an artifact digest" in bad
    usage = harness.private_reply(harness.command("verify payments"))
    assert "Usage: `/release verify" in usage


def test_verify_keeps_a_private_release_among_those_who_may_see_it(harness: Harness) -> None:
    harness.command(f"propose ledger 1.0 {iso(ahead())} <@U_QA|qa>", channel_id="G_SECRET")
    harness.command(f"update ledger@1.0 digest={DIGEST}", channel_id="G_SECRET")
    outsider = harness.private_reply(harness.command(f"verify ledger {DIGEST}", user_id="U_X"))
    assert "No release of *ledger*" in outsider and "ledger@1.0" not in outsider
    approver = harness.private_reply(harness.command(f"verify ledger {DIGEST}", user_id="U_QA"))
    assert "ledger@1.0" in approver
