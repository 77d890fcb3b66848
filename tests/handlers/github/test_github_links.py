"""`/release github link | links | unlink`: release managers link repositories to
services per environment; everyone else, and bad input, gets a clear private answer."""

from __future__ import annotations

from sqlmodel import col, select

from models.audit import AuditEvent
from tests.handlers.github.conftest import MANAGER, link
from tests.support.harness import Harness


def said(harness: Harness, text: str, user_id: str = MANAGER) -> str:
    return harness.private_reply(harness.command(f"github {text}", user_id=user_id))


def test_managers_link_list_and_unlink_and_it_is_audited(harness: Harness) -> None:
    made = link(harness, "Acme/Payments payments environment production staging")
    assert "acme/payments is linked to *payments* for `production`, `staging`" in made
    again = link(harness, "acme/payments payments")
    assert "linked to *payments* already; nothing changed" in again
    said(harness, "link acme/payments payments-canary environment canary")
    listed = said(harness, "links")
    assert "acme/payments `production` → *payments*" in listed
    assert "acme/payments `canary` → *payments-canary*" in listed
    assert "<#C_RELEASES>" in listed and "<@U_PM>" in listed

    removed = said(harness, "unlink acme/payments payments")
    assert "unlinked from *payments* (`production`), *payments* (`staging`)" in removed
    assert "payments-canary" in said(harness, "links")
    said(harness, "unlink acme/payments")
    assert "No repositories are linked." in said(harness, "links")
    with harness.session() as session:
        rows = session.exec(
            select(AuditEvent)
            .where(col(AuditEvent.action).startswith("github_"))
            .order_by(col(AuditEvent.id))
        ).all()
    assert [(r.actor_id, r.action) for r in rows] == [
        (MANAGER, "github_linked"),
        (MANAGER, "github_linked"),
        (MANAGER, "github_linked"),
        (MANAGER, "github_unlinked"),
        (MANAGER, "github_unlinked"),
        (MANAGER, "github_unlinked"),
    ]
    assert rows[0].after == {
        "repository": "acme/payments",
        "service": "payments",
        "environment": "production",
        "channel": "C_RELEASES",
    }


def test_others_and_bad_input_are_refused_privately(harness: Harness) -> None:
    assert "Only release managers" in said(harness, "link acme/payments payments", "U_OTHER")
    assert "Only release managers" in said(harness, "links", "U_OTHER")
    assert "is not a GitHub repository" in said(harness, "link payments payments")
    assert "Usage:" in said(harness, "link acme/payments")
    assert "Name the environments after `environment`" in said(
        harness, "link acme/payments payments production"
    )
    assert "is not a service name" in said(harness, "link acme/payments pay$ments")
    private = harness.private_reply(
        harness.command(
            "github link acme/payments payments", user_id=MANAGER, channel_id="G_SECRET"
        )
    )
    assert "Link a repository from a public channel" in private
    link(harness, "acme/payments payments")
    taken = said(harness, "link acme/payments billing")
    assert "“acme/payments” (“production”) is linked to “payments” already" in taken
    assert "/release github unlink acme/payments payments" in taken
    assert "“acme/payments” is not linked to “billing”" in said(
        harness, "unlink acme/payments billing"
    )
