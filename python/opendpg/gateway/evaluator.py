"""Fills in each indexed round's loss and accuracy: the gateway's own evaluation of the committed global model
on the job's held-out set (``opendpg.audit.evaluate_global``: the poster's ``held_out_cid``, or a simulation's
bundled test split), so the training curve a user sees does not rest on the coordinator's word. Runs beside the
indexer; a round whose model cannot be evaluated (or whose job has no held-out set) gets the reason."""

from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from opendpg.audit import evaluate_global
from opendpg.content import ContentStore
from opendpg.errors import ContentNotFoundError, ContentUnavailableError, OpenDPGError
from opendpg.gateway.models import ChainJob, ChainRound
from opendpg.spec import JobSpec, parse_spec

__all__ = ["RoundEvaluator"]

log = logging.getLogger(__name__)


class RoundEvaluator:
    def __init__(self, sessions: sessionmaker[Session], store: ContentStore, *, interval: float = 2.0,
                 batch: int = 8, base_models: Path | None = None) -> None:
        self.sessions = sessions
        self.store = store
        self.base_models = base_models  # where base models' files are cached (fetched by CID); None: not kept
        self.interval = interval
        self.batch = batch
        self._specs: dict[str, JobSpec] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="round-evaluator", daemon=True)

    def start(self) -> RoundEvaluator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                done = self.step()
            except Exception:
                log.exception("round evaluation pass failed; retrying")
                done = 0
            if not done:
                self._stop.wait(self.interval)

    def step(self) -> int:
        """Evaluate the next rounds without metrics; return how many got an answer (numbers or a reason)."""
        with self.sessions() as session:
            rows = session.execute(
                select(ChainRound.job_id, ChainRound.round, ChainRound.global_cid, ChainRound.global_hash,
                       ChainJob.spec_cid)
                .join(ChainJob, ChainJob.job_id == ChainRound.job_id)
                .where(ChainRound.loss.is_(None), ChainRound.metrics_error.is_(None))
                .order_by(ChainRound.job_id, ChainRound.round).limit(self.batch)).all()
        answered = 0
        for job_id, round_, global_cid, global_hash, spec_cid in rows:
            values: dict[str, object]
            try:
                spec = self._specs.get(spec_cid) or parse_spec(self.store.get(spec_cid))
                self._specs[spec_cid] = spec
                model = self.store.get(global_cid)
                if hashlib.sha256(model).hexdigest() != global_hash:
                    raise OpenDPGError("the stored model does not match its on-chain hash")
                held_out = self.store.get(spec.held_out_cid) if spec.held_out_cid else None
                metrics = evaluate_global(spec, model, held_out, self.store, self.base_models)
                values = {"loss": metrics.loss, "accuracy": metrics.accuracy}
            except (ContentNotFoundError, ContentUnavailableError) as exc:
                log.info("round %d of job %d: model or spec not reachable yet (%s)", round_, job_id, exc)
                continue  # tried again on a later pass
            except (OpenDPGError, ValueError) as exc:
                values = {"metrics_error": str(exc)[:500]}
            with self.sessions() as session, session.begin():  # only the round the index still holds
                session.execute(update(ChainRound).where(
                    ChainRound.job_id == job_id, ChainRound.round == round_,
                    ChainRound.global_hash == global_hash).values(**values))
            answered += 1
        return answered
