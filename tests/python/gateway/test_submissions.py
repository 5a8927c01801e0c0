"""Jobs accepted with a 202 (``Prefer: respond-async``): recorded before the answer, posted by the same batcher,
followed at ``/jobs/submissions/{id}``; after a restart a submission caught mid-send is matched with the chain
(posted) or failed (never re-sent), and queued ones are posted."""

from __future__ import annotations

import json
import uuid

from opendpg.gateway.db import make_engine, migrate, session_factory
from opendpg.gateway.models import ChainJob, JobSubmission, User
from opendpg.gateway.submissions import RESTARTED, recover_submissions
from tests.python.gateway.conftest import Gateway
from tests.python.gateway.test_jobs import _body
from tests.python.integration.stack import wait_for

ASYNC = {"Prefer": "respond-async"}


def _settled(gw: Gateway, auth: dict[str, str], url: str) -> dict:
    def state() -> dict | None:
        answer = gw.client.get(url, headers=auth).json()
        return answer if answer["status"] in ("posted", "failed") else None

    return wait_for(state, 30, f"{url} to settle", interval=0.1)


def test_a_job_accepted_with_202_is_posted_and_followed(gw, world):
    # Prepare: a funded user and one who is not
    email, poor = f"async-{uuid.uuid4().hex[:8]}@example.org", f"poor-{uuid.uuid4().hex[:8]}@example.org"
    user = gw.sign_up(email)
    gw.sign_up(poor)
    auth, poor_auth = gw.login(email), gw.login(poor)
    gw.client.post("/faucet", headers=auth)
    gw.client.post("/faucet", headers=poor_auth)

    # Execute
    accepted = gw.client.post("/jobs", json=_body(world), headers={**auth, **ASYNC})
    refused_later = gw.client.post("/jobs", json=_body(world, reward_per_round="1000"), headers={**poor_auth, **ASYNC})

    # Assert: 202 with where to look; posted from the user's address; the unaffordable one fails with the 402
    assert accepted.status_code == 202 and accepted.headers["Preference-Applied"] == "respond-async"
    submission = accepted.json()
    assert submission["status"] in ("queued", "sending", "posted") and accepted.headers["Location"] == \
        submission["status_url"]
    posted = _settled(gw, auth, submission["status_url"])
    assert posted["status"] == "posted" and posted["tx_hash"].startswith("0x")
    assert world["admin"].market.get_job(posted["job_id"]).poster == user["address"]
    assert gw.client.get(f"/jobs/{posted['job_id']}", headers=auth).json()["state"] == "OPEN"
    failed = _settled(gw, poor_auth, refused_later.json()["status_url"])
    assert failed["status"] == "failed" and failed["error"]["status"] == 402
    assert failed["error"]["detail"][0]["loc"] == ["body", "reward_per_round"]
    # another user cannot see it; a malformed id is a 422 naming the path
    assert gw.client.get(submission["status_url"], headers=poor_auth).status_code == 404
    assert gw.client.get("/jobs/submissions/not-an-id", headers=auth).status_code == 422
    # bad input is still refused up front, with no submission
    bad = gw.client.post("/jobs", json=_body(world, spec={"name": "x"}), headers={**auth, **ASYNC})
    assert bad.status_code == 422


def test_after_a_restart_submissions_are_matched_failed_or_posted(tmp_path):
    # Prepare: a database as a crash left it: one submission whose job reached the chain while it was being sent,
    # one that did not, one still queued
    url = f"sqlite:///{tmp_path / 'g.db'}"
    migrate(url)
    sessions = session_factory(make_engine(url))
    address = "0x" + "ab" * 20
    common = {"spec": b"{}", "spec_cid": "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
              "reward_per_round": str(10**18), "required_stake": "0", "rounds": 2, "min_providers": 1,
              "max_providers": 2, "join_window_s": 3600, "round_timeout_s": 600, "coordinator": "0x" + "cd" * 20}
    with sessions() as session, session.begin():
        session.add(User(id=1, email="a@example.org", password_hash="x", address=address, encrypted_key=b"x"))
        session.flush()
        session.add(ChainJob(job_id=7, poster=address, coordinator=common["coordinator"], spec_cid=common["spec_cid"],
                             payment_token="0x" + "ef" * 20, budget=str(4 * 10**18), reward_per_round=str(10**18),
                             required_stake="0", rounds=2, min_providers=1, max_providers=2, join_deadline=1_000 + 3600,
                             round_timeout=600, state="OPEN", committed_rounds=0, credited="0",
                             tx_hash="0x" + "11" * 32, block_number=5, updated_block=5))
        session.add_all([
            JobSubmission(id="a" * 32, user_id=1, status="sending", chain_time=1_000, **common),
            JobSubmission(id="b" * 32, user_id=1, status="sending", chain_time=2_000, **common),
            JobSubmission(id="c" * 32, user_id=1, status="queued", **common),
        ])

    # Execute
    requeued = recover_submissions(sessions)

    # Assert
    with sessions() as session:
        landed, lost, queued = (session.get(JobSubmission, c * 32) for c in "abc")
        assert (landed.status, landed.job_id, landed.tx_hash) == ("posted", 7, "0x" + "11" * 32)
        assert lost.status == "failed" and json.loads(lost.error)["detail"][0]["msg"] == RESTARTED
        assert queued.status == "queued"
    assert [r.submission_id for r in requeued] == ["c" * 32] and requeued[0].user.address == address
