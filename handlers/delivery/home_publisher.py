"""Home tabs: what each person sees of the releases that involve them.

After a change, the Home of everyone it involves is rendered again, but published only when
it reads differently from what this process last published for that person: a tick that
changes the owner's Home alone costs one views.publish, not one per approver. The digests
live in this process only. Another process (or a Home published before a restart) is not
known here, so a digest is trusted for `HOME_DIGEST_TTL` at most, and opening the Home tab
always publishes it afresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.deps import Deps
from handlers.rendering.home_view import HomeContent, home_view
from handlers.slack_kit import directory
from models.release import lifecycle, queries, service_records
from models.release.queries import ReleaseView
from models.release.visibility import Reader

logger = logging.getLogger(__name__)


def involved(client: WebClient, view: ReleaseView) -> set[str]:
    people = {view.release.owner_id}
    for approver in view.approvers:
        if approver.is_group:
            try:
                people |= directory.group_members(client, approver.slack_id)
            except Exception:
                logger.warning("members of %s unknown", approver.slack_id)
        else:
            people.add(approver.slack_id)
    return people


def home_content(deps: Deps, client: WebClient, team_id: str, user_id: str) -> HomeContent:
    with deps.db.read_session() as session:
        group_ids = queries.pending_group_ids(session, team_id)
    mine_groups = directory.groups_of(client, user_id, group_ids) if group_ids else set()
    with deps.db.read_session() as session:
        awaiting = queries.awaiting_sign_off(session, team_id, user_id, mine_groups)
        owned = queries.owned_open(session, team_id, user_id)
        missing = lifecycle.missing_for_go_many(session, [r.id for r in owned if r.id])
        mine = [
            (release, [] if release.state.is_in_flight else missing.get(release.id or 0, []))
            for release in owned
        ]
        reader = Reader.person(user_id)
        upcoming = queries.upcoming(session, team_id, reader, limit=10)
        recent = service_records.recent(session, team_id, reader, limit=10)
    return HomeContent(
        awaiting=awaiting,
        mine=mine,
        upcoming=upcoming,
        recent=recent.releases,
        recent_total=recent.total,
    )


# --- what this process last published -----------------------------------------------------

# How long a published Home's digest spares an identical publish. Past it the Home is
# published again even if unchanged, in case another process published something else.
HOME_DIGEST_TTL = 600.0
_MAX_DIGESTS = 50_000  # oldest forgotten first
_Key = tuple[str, str, str, str]  # Slack API URL, token, team, user


class _PublishedHomes:
    """Digest of the Home view last published to each person by this process."""

    def __init__(self) -> None:
        self._digests: OrderedDict[_Key, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()
        # One person's Home is rendered and published by one thread at a time, so an older
        # rendering never lands after a newer one (and the digest matches what Slack shows).
        self._person_locks = [threading.Lock() for _ in range(64)]

    def person_lock(self, key: _Key) -> threading.Lock:
        return self._person_locks[hash(key) % len(self._person_locks)]

    def same(self, key: _Key, digest: str) -> bool:
        with self._lock:
            found = self._digests.get(key)
        return found is not None and found[1] == digest and found[0] > time.monotonic()

    def remember(self, key: _Key, digest: str) -> None:
        with self._lock:
            self._digests[key] = (time.monotonic() + HOME_DIGEST_TTL, digest)
            self._digests.move_to_end(key)
            while len(self._digests) > _MAX_DIGESTS:
                self._digests.popitem(last=False)

    def forget(self, key: _Key) -> None:
        with self._lock:
            self._digests.pop(key, None)


_published = _PublishedHomes()


def _key(client: WebClient, team_id: str, user_id: str) -> _Key:
    return (client.base_url, client.token or "", team_id, user_id)


def publish_home(
    deps: Deps, client: WebClient, team_id: str, user_id: str, *, if_changed: bool = False
) -> bool:
    """Render this person's Home and publish it; with `if_changed`, only when it differs
    from what was last published to them. Whether it was published."""
    key = _key(client, team_id, user_id)
    with _published.person_lock(key):
        view = home_view(home_content(deps, client, team_id, user_id)).to_dict()
        digest = hashlib.sha256(json.dumps(view, sort_keys=True).encode()).hexdigest()
        if if_changed and _published.same(key, digest):
            return False
        try:
            client.views_publish(user_id=user_id, view=view)
        except Exception:
            _published.forget(key)  # whatever Slack shows now, it is not known here
            raise
        _published.remember(key, digest)
        return True


def publish_homes(deps: Deps, client: WebClient, team_id: str, user_ids: Iterable[str]) -> None:
    """Republish these people's Home tabs, soon, where they changed. A burst of changes for
    one person waits in the queue as one job, so it costs one publish, not one per change."""
    for user_id in sorted(set(user_ids)):
        deps.work.submit_once(
            ("home", team_id, user_id), _publish_home_quietly, deps, client, team_id, user_id
        )


def _publish_home_quietly(deps: Deps, client: WebClient, team_id: str, user_id: str) -> None:
    try:
        publish_home(deps, client, team_id, user_id, if_changed=True)
    except SlackApiError as exc:
        logger.warning("home of %s not published: %s", user_id, exc.response.get("error"))
