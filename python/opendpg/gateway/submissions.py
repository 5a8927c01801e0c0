"""Jobs accepted with a 202 (``Prefer: respond-async``): the durable record is written before the answer, many at
once (a group commit every few milliseconds instead of one commit per request), and after a restart the records
are reconciled with the chain."""

from __future__ import annotations

import json
import logging
import queue
import threading
from concurrent.futures import Future

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from opendpg.chain import job_budget
from opendpg.gateway.models import ChainJob, JobSubmission, User
from opendpg.gateway.posting import PostRequest, gather

__all__ = ["RESTARTED", "SubmissionWriter", "recover_submissions", "request_of"]

log = logging.getLogger(__name__)


class SubmissionWriter:
    """Inserts submission rows in groups: each caller's future resolves once its row is committed."""

    def __init__(self, sessions: sessionmaker[Session], *, linger: float = 0.002, max_group: int = 512) -> None:
        self.sessions = sessions
        self.linger = linger
        self.max_group = max_group
        self._queue: queue.Queue[tuple[JobSubmission, Future[None]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="submission-writer", daemon=True)

    def start(self) -> SubmissionWriter:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def write(self, row: JobSubmission) -> Future[None]:
        future: Future[None] = Future()
        self._queue.put((row, future))
        return future

    def _run(self) -> None:
        while (group := gather(self._queue, self.max_group, self.linger)) is not None:
            try:
                with self.sessions() as session, session.begin():
                    session.add_all([row for row, _ in group])
            except Exception as exc:  # nothing accepted: every caller hears it (and answers 503, not 202)
                log.warning("recording %d submissions failed: %s", len(group), exc)
                for _, future in group:
                    future.set_exception(exc)
                continue
            for _, future in group:
                future.set_result(None)


def row_of(post: PostRequest) -> JobSubmission:
    return JobSubmission(id=post.submission_id, user_id=post.user.id, status="queued", spec=post.spec,
                         spec_cid=post.spec_cid, reward_per_round=str(post.reward_per_round),
                         required_stake=str(post.required_stake), rounds=post.rounds, min_providers=post.min_providers,
                         max_providers=post.max_providers, join_window_s=post.join_window_s,
                         round_timeout_s=post.round_timeout_s, coordinator=post.coordinator)


def request_of(submission: JobSubmission, user: User) -> PostRequest:
    return PostRequest(user=user, spec=submission.spec, spec_cid=submission.spec_cid,
                       reward_per_round=int(submission.reward_per_round), rounds=submission.rounds,
                       min_providers=submission.min_providers, max_providers=submission.max_providers,
                       required_stake=int(submission.required_stake), join_window_s=submission.join_window_s,
                       round_timeout_s=submission.round_timeout_s, coordinator=submission.coordinator,
                       submission_id=submission.id)


RESTARTED = ("the gateway restarted while posting this job and it is not on-chain: nothing was charged; post it "
             "again if you still want it")


def recover_submissions(sessions: sessionmaker[Session]) -> list[PostRequest]:
    """After a restart (the index caught up first): a ``sending`` submission whose job the chain has (same poster,
    spec and parameters, its deadline counted from the recorded chain time) is ``posted``; one the chain does not
    have is ``failed`` (never re-sent: it could still land). ``queued`` ones are returned to be posted."""
    with sessions() as session, session.begin():
        claimed = set(session.scalars(select(JobSubmission.job_id).where(JobSubmission.job_id.is_not(None))))
        for sub in session.scalars(select(JobSubmission).where(JobSubmission.status == "sending")
                                   .order_by(JobSubmission.created_at)):
            user = session.get(User, sub.user_id)
            budget = job_budget(int(sub.reward_per_round), sub.rounds, sub.max_providers)
            job = None if user is None or sub.chain_time is None else session.scalar(
                select(ChainJob).where(ChainJob.poster == user.address, ChainJob.spec_cid == sub.spec_cid,
                                       ChainJob.join_deadline == sub.chain_time + sub.join_window_s,
                                       ChainJob.budget == str(budget), ChainJob.job_id.not_in(claimed))
                .order_by(ChainJob.job_id))
            if job is not None:
                sub.status, sub.job_id, sub.tx_hash = "posted", job.job_id, job.tx_hash
                claimed.add(job.job_id)
            else:
                sub.status = "failed"
                sub.error = json.dumps({"status": 409, "detail": [{"loc": ["body"], "msg": RESTARTED}]})
        queued = list(session.scalars(select(JobSubmission).where(JobSubmission.status == "queued")
                                      .order_by(JobSubmission.created_at)))
        users = {u.id: u for u in session.scalars(select(User).where(User.id.in_({q.user_id for q in queued})))}
        requests = [request_of(sub, users[sub.user_id]) for sub in queued]
        session.expunge_all()
    return requests
