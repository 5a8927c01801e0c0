"""The datasets this provider holds in its own files: checked against their assets' schemas, declared on-chain
(schema fingerprint, record count, privacy budget; never a record or anything derived from one), and the data
side of every join decision.

On start, each ``[data.<asset id>]`` section is read with the asset's schema (from its metadata on IPFS, by
the CID the DPG registry holds) and, when it passes, declared in the data ledger; a holding that fails is
logged and persisted with its reason (``holdings.json``) and every job on that asset is refused with it. Before
joining a job on held data the agent checks that the job's schema is the asset's, that its records pass the
schema, what DP-SGD would spend on them (Opacus's accountant, for this node's record count) against what the
spec and the on-chain terms declare, and what is left of its budget.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from opendpg.agent.config import DataSection
from opendpg.chain import DELTA_UNIT, EPSILON_UNIT, Chain, DataTerms
from opendpg.content import ContentStore
from opendpg.data import DataError, DatasetSchema, LocalData, read_local, validation_split
from opendpg.dpg.datasets import asset_schema
from opendpg.errors import ContentError, OpenDPGValueError
from opendpg.files import write_atomic
from opendpg.fl.privacy import job_epsilon
from opendpg.spec import JobSpec

__all__ = ["DataHoldings", "HoldingStatus"]

log = logging.getLogger(__name__)


@dataclass
class HoldingStatus:
    """What this node knows of one held asset: declared or why not."""

    asset: int
    declared: bool
    records: int = 0
    dropped: int = 0
    schema: str = ""  # fingerprint, hex
    reason: str = ""


class DataHoldings:
    def __init__(self, chain: Chain, store: ContentStore, sections: dict[int, DataSection], state_file: Path) -> None:
        self.chain = chain
        self.store = store
        self.sections = sections
        self.state_file = state_file
        self.status: dict[int, HoldingStatus] = {}
        self._records: dict[tuple[int, bytes], LocalData] = {}

    # ------------------------------------------------------------------ on start

    def declare_all(self) -> dict[int, HoldingStatus]:
        """Check every held asset's files against its schema and declare the ones that pass (again only when
        something changed on-chain); persist and log the outcome of each."""
        for asset, section in sorted(self.sections.items()):
            try:
                schema = self.schema_of(asset)
                records = self.records(asset, schema)
                self._declare(asset, section, schema, len(records))
                status = HoldingStatus(asset, True, len(records), records.dropped, schema.fingerprint().hex())
                log.info("dataset held and declared", extra={"asset": asset, "records": len(records),
                                                            "dropped": records.dropped, "path": str(section.path)})
            except (OpenDPGValueError, ContentError) as exc:
                status = HoldingStatus(asset, False, reason=str(exc))
                log.error("dataset not declared: jobs on it are refused", extra={"asset": asset, "reason": str(exc)})
            self.status[asset] = status
        write_atomic(self.state_file, json.dumps({str(k): asdict(v) for k, v in self.status.items()}, indent=1))
        return self.status

    def schema_of(self, asset: int) -> DatasetSchema:
        """The dataset schema in ``asset``'s metadata (fetched by its on-chain CID, checked by the store)."""
        return asset_schema(self.chain, self.store, asset)

    def records(self, asset: int, schema: DatasetSchema) -> LocalData:
        """The asset's records in this node's files, read and checked once per schema (raises ``DataError``)."""
        key = (asset, schema.fingerprint())
        if key not in self._records:
            section = self.sections[asset]
            assert section.path is not None  # the config requires it
            self._records[key] = read_local(schema, section.path, drop_bad_rows=section.drop_bad_rows)
        return self._records[key]

    def _declare(self, asset: int, section: DataSection, schema: DatasetSchema, records: int) -> None:
        ledger = self.chain.ledger
        held = ledger.holding_of(self.chain.sender.address, asset)
        budget = round(section.budget * EPSILON_UNIT)
        delta = round(section.privacy_delta * DELTA_UNIT)
        wanted = (schema.fingerprint(), records, max(budget, held.spent), delta, section.requires_dp)
        if (held.schema, held.records, held.budget, held.delta, held.requires_dp) == wanted:
            return
        if budget < held.spent:
            log.warning("privacy_budget is below what jobs already spent on this dataset: the budget stays at the "
                        "spent amount (nothing more can be spent)",
                        extra={"asset": asset, "budget": section.budget, "spent": held.spent / EPSILON_UNIT})
        ledger.declare_holding(asset, *wanted)

    # ------------------------------------------------------------------ before joining

    def check(self, spec: JobSpec, terms: DataTerms | None) -> list[str]:
        """Why this node cannot train the job on its own data (empty: it can). ``terms``: the job's on-chain data
        terms. A simulation needs nothing here."""
        dataset = spec.dataset
        if dataset.mode != "local":
            return []
        assert dataset.asset is not None and dataset.data_schema is not None  # the spec's validation requires them
        asset = dataset.asset
        status = self.status.get(asset)
        if status is None:
            return [f"dataset asset {asset} is not held here"]
        if not status.declared:
            return [f"our data for asset {asset} is not usable: {status.reason}"]
        fingerprint = dataset.data_schema.fingerprint()
        if fingerprint.hex() != status.schema:
            return [f"the job's schema (fingerprint {fingerprint.hex()[:16]}...) is not asset {asset}'s current schema "
                    f"({status.schema[:16]}...) that our records were checked against"]
        if terms is None or terms.asset != asset or terms.schema != fingerprint:
            return ["the job's on-chain data terms do not name the spec's dataset asset and schema"]
        try:
            records = self.records(asset, dataset.data_schema)
        except DataError as exc:
            return [f"our data for asset {asset} does not pass the schema: {exc}"]
        return self._privacy_reasons(spec, terms, asset, len(records))

    def _privacy_reasons(self, spec: JobSpec, terms: DataTerms, asset: int, records: int) -> list[str]:
        section = self.sections[asset]
        dp = spec.privacy.dp_sgd
        if dp is None:
            return [f"this node takes only jobs that train with DP-SGD on asset {asset} (requires_dp)"] \
                if section.requires_dp else []
        training, _ = validation_split(records, spec.dataset.validation_fraction, spec.dataset.seed)
        spent = job_epsilon(spec, len(training))
        assert spent is not None
        reasons = []
        if spent > dp.epsilon:
            reasons.append(f"the job declares epsilon {dp.epsilon:g} per provider but DP-SGD on our {len(training)} "
                           f"training records spends {spent:.4g} (at delta {dp.delta:g})")
        if terms.epsilon < spent * EPSILON_UNIT or terms.delta != round(dp.delta * DELTA_UNIT):
            reasons.append(f"the job's on-chain terms count epsilon {terms.epsilon / EPSILON_UNIT:g} at delta "
                           f"{terms.delta / DELTA_UNIT:g}, not what its spec spends")
        if dp.delta > section.privacy_delta:
            reasons.append(f"the job's delta {dp.delta:g} is above our budget's delta {section.privacy_delta:g}")
        remaining = self.chain.ledger.remaining_budget(self.chain.sender.address, asset)
        if terms.epsilon > remaining:
            reasons.append(f"the job spends epsilon {terms.epsilon / EPSILON_UNIT:g}; {remaining / EPSILON_UNIT:g} "
                           f"is left of our privacy budget on asset {asset}")
        return reasons
