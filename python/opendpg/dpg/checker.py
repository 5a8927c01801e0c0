"""The automated DPG check: an asset's metadata (and files) against the standard's nine indicators.

Each indicator ends as ``pass``, ``fail`` or ``review`` (the tool found what it can check, but the verdict needs
a person: the adequacy of a do-no-harm statement, say). The check passes when nothing failed; reviewers and the
committee see every ``review`` with its evidence. What the tool demands comes from the standard document, so a
new version voted by the DAO changes the outcome.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from opendpg.dpg.files import AssetFiles
from opendpg.dpg.licences import judge_licence, licence_ids, licences, matches_text
from opendpg.dpg.metadata import AssetMetadata
from opendpg.dpg.standard import Indicator, Standard

__all__ = ["REPORT_SCHEMA", "Finding", "Report", "Status", "check_asset", "unreadable_metadata_report"]

REPORT_SCHEMA = "opendpg-dpg-report/1"
Status = Literal["pass", "fail", "review"]
_ALL_FAMILIES = ["osi", "cc-open", "odc"]


class Finding(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    key: str
    title: str
    status: Status
    evidence: list[str]


class Report(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)

    schema_: str = Field(default=REPORT_SCHEMA, alias="schema")
    standard: dict[str, Any] = Field(description="version and CID of the standard checked against")
    asset: dict[str, Any] = Field(description="the asset as checked: id, name, kind, licence, metadata CID")
    checked_at: str
    checker: str = Field(default="", description="the address that attests this report on-chain")
    findings: list[Finding]

    @property
    def passed(self) -> bool:
        return all(f.status != "fail" for f in self.findings)

    def counts(self) -> dict[str, int]:
        return {s: sum(f.status == s for f in self.findings) for s in ("pass", "fail", "review")}

    def to_bytes(self) -> bytes:
        body = self.model_dump(mode="json", by_alias=True) | {"passed": self.passed, "summary": self.counts()}
        return json.dumps(body, indent=1, sort_keys=True).encode() + b"\n"


class _Ctx:
    def __init__(self, meta: AssetMetadata, standard: Standard, files: AssetFiles | None) -> None:
        self.meta, self.standard, self.files = meta, standard, files


_Result = tuple[Status, list[str]]


def _sdg(ctx: _Ctx, params: dict[str, Any]) -> _Result:
    min_sdgs, min_chars = int(params.get("min_sdgs", 1)), int(params.get("min_evidence_chars", 20))
    good = [c for c in ctx.meta.sdgs if len(c.evidence.strip()) >= min_chars]
    evidence = [f"SDG {c.goal}: {c.evidence.strip()[:200]}" for c in good]
    weak = [c.goal for c in ctx.meta.sdgs if c not in good]
    if weak:
        evidence.append(f"SDG {', '.join(map(str, weak))}: evidence shorter than {min_chars} characters")
    if len(good) < min_sdgs:
        return "fail", [*evidence, f"needs at least {min_sdgs} SDG(s) with evidence (metadata field 'sdgs')"]
    return "pass", evidence


def _licence(ctx: _Ctx, params: dict[str, Any]) -> _Result:
    families = ctx.standard.approved_licences.get(ctx.meta.kind, [])
    verdict = judge_licence(ctx.meta.licence, families)
    evidence = [f"declared: {ctx.meta.licence}; approved for {ctx.meta.kind}: {', '.join(families)}",
                *verdict.reasons]
    if not verdict.approved:
        return "fail", evidence
    if ctx.meta.kind not in ("software", "model"):
        return "pass", evidence
    if ctx.files is None:
        return "review", [*evidence, "no files given: the licence file was not checked"]
    found = ctx.files.licence_files()
    if not found:
        return "fail", [*evidence, "no LICENSE/LICENCE/COPYING file at the top of the files"]
    ids = licence_ids(ctx.meta.licence)
    for path in found:
        text = ctx.files.text(path)
        matched = [i for i in ids if matches_text(i, text)]
        if matched:
            return "pass", [*evidence, f"{path.name} carries the text of {', '.join(matched)}"]
    names = ", ".join(p.name for p in found)
    return "review", [*evidence, f"{names} does not read like {ctx.meta.licence}: a person must compare them"]


def _ownership(ctx: _Ctx, params: dict[str, Any]) -> _Result:
    owner = ctx.meta.owner
    if not owner.name.strip() or not owner.contact.strip():
        return "fail", ["the owner's name and contact are required (metadata field 'owner')"]
    evidence = [f"owner: {owner.name} <{owner.contact}>"]
    if owner.evidence.strip():
        evidence.append(f"declared evidence: {owner.evidence.strip()[:200]}")
    lines = ctx.files.copyright_lines() if ctx.files else []
    naming = [line for line in lines if owner.name.lower() in line.lower()]
    if naming:
        return "pass", [*evidence, f"copyright notice: {naming[0][:200]}"]
    if lines:
        return "review", [*evidence, f"copyright notices name someone else: {lines[0][:200]}"]
    return ("pass" if owner.evidence.strip() else "review"), evidence + (
        [] if owner.evidence.strip() else ["no evidence of ownership (a copyright notice or registry entry)"])


def _platform(ctx: _Ctx, params: dict[str, Any]) -> _Result:
    if ctx.meta.kind == "compute_commitment":
        return "pass", ["not applicable to a compute commitment (hardware offered through the open protocol)"]
    evidence, closed = [], []
    for dep in ctx.meta.mandatory_dependencies:
        open_licence = dep.licence.lower() != "proprietary" and judge_licence(dep.licence, _ALL_FAMILIES).approved
        if open_licence:
            evidence.append(f"{dep.name}: open ({dep.licence})")
        elif dep.open_alternative.strip():
            evidence.append(f"{dep.name}: closed ({dep.licence}); open alternative: {dep.open_alternative}")
        else:
            closed.append(dep.name)
    if not ctx.meta.mandatory_dependencies:
        evidence.append("no mandatory dependencies declared")
    if closed:
        return "fail", [*evidence, f"closed mandatory dependencies without an open alternative: {', '.join(closed)}"]
    if ctx.files:
        declared = {d.name.lower() for d in ctx.meta.mandatory_dependencies}
        for manifest, names in ctx.files.declared_dependencies().items():
            undeclared = [n for n in names if n.lower() not in declared]
            if undeclared:
                evidence.append(f"{manifest} also lists {', '.join(undeclared[:20])}: declare the mandatory ones")
                return "review", evidence
    return "pass", evidence


def _documentation(ctx: _Ctx, params: dict[str, Any]) -> _Result:
    need = ctx.standard.min_documentation_chars
    if ctx.files:
        readme, docs = ctx.files.readme(), ctx.files.docs()
        if docs:
            return "pass", [f"docs folder with {len(docs)} file(s)"]
        if readme and len(ctx.files.text(readme).strip()) >= need:
            return "pass", [f"{readme.name}: {len(ctx.files.text(readme).strip())} characters"]
    text = ctx.meta.documentation.strip()
    if text.startswith(("http://", "https://")) and " " not in text:
        return "review", [f"documentation at {text}: not fetched by the offline checker, a person must look"]
    if len(text) >= need:
        return "pass", [f"documentation in the metadata: {len(text)} characters"]
    return "fail", [f"no documentation of at least {need} characters (a README or docs/ in the files, or "
                    "metadata field 'documentation')"]


def _extraction(ctx: _Ctx, params: dict[str, Any]) -> _Result:
    if ctx.meta.kind == "compute_commitment":
        return "pass", ["not applicable to a compute commitment (it holds no content)"]
    data = ctx.meta.data
    open_formats = {f.lower() for f in ctx.standard.open_formats}
    declared = {f.lower().lstrip(".") for f in data.formats} if data else set()
    evidence = []
    if declared:
        evidence.append(f"declared formats: {', '.join(sorted(declared))}")
    if data and data.extraction.strip():
        evidence.append(f"extraction: {data.extraction.strip()[:200]}")
    if ctx.files and ctx.meta.kind == "model":
        refused, found = _model_files(ctx.files)
        if refused:
            return "fail", [*evidence, *found]
        evidence.extend(found)
    if ctx.files:
        present = ctx.files.extensions() & open_formats
        if present:
            evidence.append(f"files in open formats: {', '.join(sorted(present))}")
        declared |= present
        personal = {f.lower() for f in ctx.standard.personal_data_fields}
        for path, header in ctx.files.csv_headers().items():
            hits = [h for h in header if h.lower() in personal]
            if hits:
                return "review", [*evidence, f"{path} has columns that look personal: {', '.join(hits)}"]
    if ctx.meta.kind == "software":
        if data and (data.extraction.strip() or declared & open_formats):
            return "pass", evidence
        return "fail", [*evidence, "software must say how users extract their data (metadata 'data.extraction')"]
    if not declared & open_formats:
        given = ", ".join(sorted(declared)) or "the declared ones"
        return "fail", [*evidence, f"no open format among {given} (open: {', '.join(sorted(open_formats))})"]
    if data and data.contains_personal_data:
        return "review", [*evidence, "the owner declares personal data: a person must confirm it is not extractable"]
    return "pass", evidence


def _model_files(files: AssetFiles) -> tuple[bool, list[str]]:
    """What a model's files show (its safetensors weights read by their header only, and its card), and whether
    they must fail: a pickle checkpoint, or weights without a readable card."""
    from pydantic import ValidationError
    from safetensors import SafetensorError, safe_open

    from opendpg.fl.basemodel import CARD_FILE, PICKLE_SUFFIXES, WEIGHTS_FILE, ModelCard

    pickles = [str(p.relative_to(files.root)) for p in files.all_files() if p.suffix.lower() in PICKLE_SUFFIXES]
    if pickles:
        return True, [f"{pickles[0]}: a pickle checkpoint (loading one can run code); publish the weights as "
                      f"{WEIGHTS_FILE} instead"]
    weights = files.root / WEIGHTS_FILE
    if not weights.is_file():
        return False, [f"no {WEIGHTS_FILE}: no base model checkpoint among the files"]
    try:
        with safe_open(str(weights), framework="np") as f:
            shapes = [f.get_slice(name).get_shape() for name in f.keys()]  # noqa: SIM118 (safe_open has no __iter__)
    except (SafetensorError, OSError) as exc:
        return True, [f"{WEIGHTS_FILE}: not readable as safetensors ({exc})"]
    parameters = sum(int(np.prod(shape)) for shape in shapes)
    found = [f"weights: {WEIGHTS_FILE} (safetensors), {len(shapes)} tensors, {parameters:,} values"]
    try:
        card = ModelCard.model_validate_json((files.root / CARD_FILE).read_bytes())
    except (OSError, ValidationError) as exc:
        return True, [*found, f"{CARD_FILE}: missing or invalid ({str(exc).splitlines()[0]}): nobody can tell which "
                              "architecture the weights fit"]
    found.append(f"card: {card.name} {card.config or ''} for inputs {tuple(card.input_shape)} with {card.outputs} "
                 f"outputs; trained on: {card.trained_on or '(not said)'}")
    return False, found


def _privacy(ctx: _Ctx, params: dict[str, Any]) -> _Result:
    privacy = ctx.meta.privacy
    if privacy is None or not privacy.statement.strip():
        return "fail", ["a privacy statement is required (metadata field 'privacy.statement')"]
    evidence = [f"statement: {privacy.statement.strip()[:200]}"]
    if not privacy.laws:
        return "fail", [*evidence, "name the laws the asset complies with (metadata field 'privacy.laws')"]
    evidence.append(f"laws: {', '.join(privacy.laws)}")
    if privacy.collects_personal_data:
        return "review", [*evidence, "collects personal data: compliance must be judged by a person"]
    return "pass", evidence


def _standards(ctx: _Ctx, params: dict[str, Any]) -> _Result:
    need = int(params.get("min_standards", 1))
    evidence = [f"declared: {', '.join(ctx.meta.standards)}"] if ctx.meta.standards else []
    if ctx.files and ctx.files.has_tests():
        evidence.append("the files include a test suite")
    if len(ctx.meta.standards) < need:
        return "fail", [*evidence, f"declare at least {need} open standard(s) or best practice(s) followed"]
    return "pass", evidence


def _harm(ctx: _Ctx, params: dict[str, Any]) -> _Result:
    required = [str(s) for s in params.get("statements", [])]
    statements = {k: v.strip() for k, v in ctx.meta.do_no_harm.items()}
    missing = [s for s in required if len(statements.get(s, "")) < 20]
    evidence = [f"{s}: {statements[s][:200]}" for s in required if s not in missing]
    if missing:
        return "fail", [*evidence, f"missing statements (metadata 'do_no_harm'): {', '.join(missing)}"]
    return "pass", evidence


_CHECKS: dict[str, Callable[[_Ctx, dict[str, Any]], _Result]] = {
    "sdg_relevance": _sdg, "open_licence": _licence, "clear_ownership": _ownership,
    "platform_independence": _platform, "documentation": _documentation, "data_extraction": _extraction,
    "privacy_and_law": _privacy, "standards": _standards, "do_no_harm": _harm,
}


def _finding(indicator: Indicator, ctx: _Ctx) -> Finding:
    status, evidence = _CHECKS[indicator.key](ctx, indicator.params)
    if status == "pass" and indicator.human_review:
        status, evidence = "review", [*evidence, "the standard asks a person to judge this indicator"]
    return Finding(id=indicator.id, key=indicator.key, title=indicator.title, status=status, evidence=evidence)


def check_asset(meta: AssetMetadata, standard: Standard, *, standard_cid: str, files: AssetFiles | None = None,
                asset_id: int | None = None, metadata_cid: str | None = None, checker: str = "",
                now: dt.datetime | None = None) -> Report:
    """Check ``meta`` (and ``files``) against every indicator of ``standard``."""
    licences()  # the shipped list loads (and fails loudly) before any indicator runs
    ctx = _Ctx(meta, standard, files)
    asset = {"id": asset_id, "name": meta.name, "kind": meta.kind, "licence": meta.licence,
             "metadata_cid": metadata_cid}
    return Report(standard={"version": standard.version, "cid": standard_cid}, asset=asset, checker=checker,
                  checked_at=(now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
                  findings=[_finding(i, ctx) for i in standard.indicators])


def unreadable_metadata_report(standard: Standard, *, standard_cid: str, problem: str, asset_id: int,
                               metadata_cid: str, licence: str, checker: str = "",
                               now: dt.datetime | None = None) -> Report:
    """A failed check for an asset whose metadata document is not ``opendpg-asset/1`` or ``/2``: every indicator fails
    with the reason, so the asset does not wait for a check forever; its owner fixes the document and renews."""
    evidence = [f"the metadata document {metadata_cid} is not readable as opendpg-asset/1 or /2: {problem}"]
    return Report(standard={"version": standard.version, "cid": standard_cid},
                  asset={"id": asset_id, "name": None, "kind": None, "licence": licence, "metadata_cid": metadata_cid},
                  checker=checker, checked_at=(now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
                  findings=[Finding(id=i.id, key=i.key, title=i.title, status="fail", evidence=evidence)
                            for i in standard.indicators])
