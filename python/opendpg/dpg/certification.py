"""The certification flow over the DPG registry: register an asset (metadata and files pinned to IPFS), run the
automated check and attest it, vote, close the vote, decide as a committee member, renew; read an asset's
whole state (stage, current review, the report behind the attestation)."""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opendpg.chain import Chain
from opendpg.content import ContentStore
from opendpg.dpg.checker import Report, check_asset, unreadable_metadata_report
from opendpg.dpg.files import AssetFiles, FilesError, open_files
from opendpg.dpg.metadata import AssetMetadata, MetadataError, parse_metadata
from opendpg.dpg.standard import ASSET_KINDS, Standard, load_standard
from opendpg.errors import OpenDPGValueError

__all__ = ["STAGES", "AssetState", "Certification", "pack_files"]

#: ``IDPGRegistry.Stage`` names, in order.
STAGES = ("none", "registered", "awaiting_check", "check_failed", "voting", "vote_failed", "committee_review",
          "rejected", "certified", "revoked")


def pack_files(path: Path) -> bytes:
    """A folder as a deterministic .tar (sorted, no owners or times), or an archive's bytes as they are."""
    if not path.exists():
        raise FilesError(f"{path}: no such file or folder")
    if path.is_file():
        return path.read_bytes()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            info = tarfile.TarInfo(str(item.relative_to(path)))
            info.size, info.mode, info.mtime = item.stat().st_size, 0o644, 0
            with item.open("rb") as f:
                tar.addfile(info, f)
    return buffer.getvalue()


@dataclass(frozen=True)
class AssetState:
    asset: dict[str, Any]
    stage: str
    certified: bool
    review: dict[str, Any] | None  # the current (or last) review, with its report when one was attested
    report: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return {"asset": self.asset, "stage": self.stage, "certified": self.certified, "review": self.review,
                "report": self.report}


class Certification:
    """One account's view of certification: ``chain`` signs as that account, ``store`` pins and fetches."""

    def __init__(self, chain: Chain, store: ContentStore) -> None:
        self.chain = chain
        self.store = store

    # -------------------------------------------------------------- asset owners

    def register(self, meta: AssetMetadata, *, files: Path | None = None, certify: bool = True) -> int:
        """Pin the files (if any) and the metadata, register the asset, and request certification."""
        metadata_cid = self._pin(meta, files)
        asset_id = self.chain.dpg.register_asset(ASSET_KINDS.index(meta.kind), metadata_cid, meta.licence)
        if certify:
            self.chain.dpg.request_certification(asset_id)
        return asset_id

    def update(self, asset_id: int, meta: AssetMetadata, *, files: Path | None = None) -> None:
        """Replace the asset's metadata (and files); any certification is cleared until a new review."""
        metadata_cid = self._pin(meta, files)
        self.chain.dpg.update_asset(asset_id, metadata_cid, meta.licence)

    def _pin(self, meta: AssetMetadata, files: Path | None) -> str:
        if files is not None:
            with open_files(files) as view:  # readable and safe before anything is pinned or sent
                if meta.kind == "model":  # a model's files are its safetensors weights and card, never a pickle
                    from opendpg.dpg.basemodels import check_model_files

                    check_model_files(view.root)
            meta = meta.model_copy(update={"files_cid": self.store.put(pack_files(files))})
        return self.store.put(meta.to_bytes())

    def renew(self, asset_id: int) -> None:
        """Start a new review against the current standard (a certification that expired, failed or was
        rejected; the owner may also update the asset first)."""
        self.chain.dpg.request_certification(asset_id)

    # -------------------------------------------------------------- checkers

    def standard(self) -> tuple[Standard, str]:
        version, cid = self.chain.dpg.standard()
        standard = load_standard(cid, self.store)
        if standard.version != version:
            raise OpenDPGValueError(f"the standard document {cid} says version {standard.version}, the registry "
                                    f"says {version}: the document was published under the wrong version")
        return standard, cid

    def asset(self, asset_id: int) -> dict[str, Any]:
        asset = self.chain.dpg.get_asset(asset_id)
        if asset["stage"] == 0:
            raise OpenDPGValueError(f"asset {asset_id} does not exist (the registry has "
                                    f"{self.chain.dpg.asset_count()})")
        return asset

    def check(self, asset_id: int, files: Path | None = None) -> Report:
        """The automated check of a registered asset against the current standard: its metadata from IPFS, its
        files from ``files`` or else from the archive its metadata names. Metadata that is not an
        ``opendpg-asset`` document gives a failed report saying so."""
        asset = self.asset(asset_id)
        standard, standard_cid = self.standard()
        try:
            meta = parse_metadata(self.store.get(asset["metadata_cid"]))
        except MetadataError as exc:
            return unreadable_metadata_report(standard, standard_cid=standard_cid, problem=str(exc),
                                              asset_id=asset_id, metadata_cid=asset["metadata_cid"],
                                              licence=asset["licence"], checker=self.chain.sender.address)

        def run(opened: AssetFiles | None) -> Report:
            return check_asset(meta, standard, standard_cid=standard_cid, files=opened, asset_id=asset_id,
                               metadata_cid=asset["metadata_cid"], checker=self.chain.sender.address)

        if files is None and meta.files_cid:
            with tempfile.TemporaryDirectory(prefix="opendpg-files-") as tmp:
                archive = Path(tmp) / "files.tar"
                archive.write_bytes(self.store.get(meta.files_cid))
                with open_files(archive) as opened:
                    return run(opened)
        if files is None:
            return run(None)
        with open_files(files) as opened:
            return run(opened)

    def attest(self, asset_id: int, report: Report) -> str:
        """Pin the report and attest it on-chain (pass = nothing failed); the report's CID."""
        cid = self.store.put(report.to_bytes())
        self.chain.dpg.attest_check(asset_id, int(report.standard["version"]), report.passed, cid)
        return cid

    # -------------------------------------------------------------- reviewers

    def vote(self, asset_id: int, support: bool) -> None:
        self.chain.dpg.cast_vote(asset_id, support)

    def close_vote(self, asset_id: int) -> None:
        self.chain.dpg.close_vote(asset_id)

    def decide(self, asset_id: int, approve: bool, reason: str = "") -> str:
        """A committee member's decision; the reason is pinned (required to reject). The reason's CID or ''."""
        if not approve and not reason.strip():
            raise OpenDPGValueError("a rejection needs a reason (--reason): it is published with the decision")
        reason_cid = self.store.put(reason.encode()) if reason.strip() else ""
        self.chain.dpg.committee_decide(asset_id, approve, reason_cid)
        return reason_cid

    def claim_reward(self, asset_id: int, review: int | None = None) -> dict[str, int]:
        """Claim this account's reviewer reward for a review (default: the asset's current one)."""
        if review is None:
            review = int(self.chain.dpg.get_asset(asset_id)["review"])
        return self.chain.rewards.claim(asset_id, review)

    # -------------------------------------------------------------- everyone

    def state(self, asset_id: int) -> AssetState:
        asset = self.chain.dpg.get_asset(asset_id)
        if asset["stage"] == 0:
            raise OpenDPGValueError(f"asset {asset_id} does not exist")
        asset["kind"] = ASSET_KINDS[asset["kind"]]
        review = self.chain.dpg.get_review(asset_id, asset["review"]) if asset["review"] else None
        report = None
        if review and review["report_cid"]:
            report = json.loads(self.store.get(review["report_cid"]))
        return AssetState(asset=asset, stage=STAGES[asset.pop("stage")],
                          certified=self.chain.dpg.is_certified(asset_id), review=review, report=report)
