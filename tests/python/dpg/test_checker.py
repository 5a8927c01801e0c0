"""The automated check on real metadata and real files: each indicator's pass / fail / review with the evidence
that decided it, archives unpacked safely, and a new standard version changing the outcome."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from opendpg.chain import SuiteParams
from opendpg.content import cid_of
from opendpg.dpg import (
    FilesError,
    MetadataError,
    check_asset,
    open_files,
    parse_metadata,
    parse_standard,
    shipped_standard,
)
from tests.python.dpg.test_licences import MIT_TEXT

EXAMPLE = Path(__file__).parents[3] / "python/opendpg/dpg/data/examples/digits-dataset.json"


def _example(**changes) -> dict:
    meta = json.loads(EXAMPLE.read_text())
    meta.update(changes)
    return meta


def _status(report) -> dict[str, str]:
    return {f.key: f.status for f in report.findings}


def _software(**changes):
    software = {"name": "triage-app", "kind": "software", "licence": "MIT", "catalog_id": None,
                "owner": {"name": "Open Health Lab", "contact": "dev@openhealth.example"},
                "mandatory_dependencies": [{"name": "numpy", "licence": "BSD-3-Clause"},
                                           {"name": "cuda-toolkit", "licence": "proprietary",
                                            "open_alternative": "ROCm"}],
                "data": {"extraction": "GET /export returns every record as CSV"}}
    return parse_metadata(json.dumps(_example(**(software | changes))))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "triage-app"
    (root / "tests").mkdir(parents=True)
    (root / "LICENSE").write_text(MIT_TEXT)
    (root / "README.md").write_text("# Triage app\n\n" + "How to install, configure and run the app. " * 10)
    (root / "requirements.txt").write_text("numpy>=2\n# a comment\n")
    (root / "tests" / "test_app.py").write_text("def test_ok():\n    assert True\n")
    return root


def test_shipped_standard_is_what_a_deployment_points_at():
    standard, data, cid = shipped_standard()
    assert cid == cid_of(data) == SuiteParams().standard_cid
    assert [i.id for i in standard.indicators] == [str(n) for n in range(1, 10)]


def test_example_dataset_passes_with_two_indicators_for_humans():
    standard, _, cid = shipped_standard()

    report = check_asset(parse_metadata(EXAMPLE.read_bytes()), standard, standard_cid=cid)

    assert report.passed
    assert report.counts() == {"pass": 7, "fail": 0, "review": 2}
    assert {k for k, s in _status(report).items() if s == "review"} == {"privacy_and_law", "do_no_harm"}
    body = json.loads(report.to_bytes())
    assert body["passed"] is True and body["standard"] == {"version": 1, "cid": cid}


def test_licence_not_on_the_approved_list_fails():
    standard, _, cid = shipped_standard()
    meta = parse_metadata(json.dumps(_example(licence="CC-BY-NC-4.0")))

    report = check_asset(meta, standard, standard_cid=cid)

    assert not report.passed
    licence = next(f for f in report.findings if f.key == "open_licence")
    assert licence.status == "fail"
    assert any("NonCommercial" in line for line in licence.evidence)


def test_missing_statements_fail_and_name_the_field():
    standard, _, cid = shipped_standard()
    meta = parse_metadata(json.dumps(_example(do_no_harm={"data_privacy_security": "No personal data at all."},
                                              sdgs=[], privacy=None)))

    report = check_asset(meta, standard, standard_cid=cid)

    status = _status(report)
    assert status["do_no_harm"] == status["sdg_relevance"] == status["privacy_and_law"] == "fail"
    harm = next(f for f in report.findings if f.key == "do_no_harm")
    assert "inappropriate_content, protection_from_harassment" in harm.evidence[-1]


def test_software_with_its_files(repo):
    standard, _, cid = shipped_standard()

    with open_files(repo) as files:
        report = check_asset(_software(), standard, standard_cid=cid, files=files)

    status = _status(report)
    assert report.passed
    assert status["open_licence"] == "pass" and status["clear_ownership"] == "pass"
    assert status["platform_independence"] == status["documentation"] == status["standards"] == "pass"
    ownership = next(f for f in report.findings if f.key == "clear_ownership")
    assert "Copyright (c) 2026 Open Health Lab" in ownership.evidence[-1]


def test_software_files_that_contradict_the_metadata(repo):
    standard, _, cid = shipped_standard()
    (repo / "LICENSE").write_text("All rights reserved. Copyright 2026 Someone Else.")
    (repo / "requirements.txt").write_text("numpy\nclosedsdk==1.0\n")

    with open_files(repo) as files:
        report = check_asset(_software(), standard, standard_cid=cid, files=files)

    status = _status(report)
    assert status["open_licence"] == "review"       # a person compares the file with the declared MIT
    assert status["clear_ownership"] == "review"    # the notice names someone else
    assert status["platform_independence"] == "review"  # closedsdk is not declared
    (repo / "LICENSE").unlink()
    with open_files(repo) as files:
        no_licence = check_asset(_software(), standard, standard_cid=cid, files=files)
    assert _status(no_licence)["open_licence"] == "fail" and not no_licence.passed


def test_closed_dependency_without_alternative_fails():
    standard, _, cid = shipped_standard()
    meta = _software(mandatory_dependencies=[{"name": "matlab", "licence": "proprietary"}])

    report = check_asset(meta, standard, standard_cid=cid)

    platform = next(f for f in report.findings if f.key == "platform_independence")
    assert platform.status == "fail" and "matlab" in platform.evidence[-1]


def test_personal_looking_columns_go_to_review(tmp_path):
    standard, _, cid = shipped_standard()
    (tmp_path / "data.csv").write_text("patient_age,email,diagnosis\n40,a@b.example,flu\n")

    with open_files(tmp_path) as files:
        report = check_asset(parse_metadata(EXAMPLE.read_bytes()), standard, standard_cid=cid, files=files)

    extraction = next(f for f in report.findings if f.key == "data_extraction")
    assert extraction.status == "review" and "email" in extraction.evidence[-1]


def test_archives_unpack_and_unsafe_ones_are_refused(repo, tmp_path):
    standard, _, cid = shipped_standard()
    archive = tmp_path / "app.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(repo, arcname="triage-app")
    with open_files(archive) as files:
        assert check_asset(_software(), standard, standard_cid=cid, files=files).passed

    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as tar:
        info = tarfile.TarInfo("../outside.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"bad"))
    with pytest.raises(FilesError, match="unsafe archive member"), open_files(evil):
        pass
    with pytest.raises(FilesError, match="no such file"), open_files(tmp_path / "missing"):
        pass


def test_a_new_standard_version_changes_the_outcome():
    _, data, _ = shipped_standard()
    v2 = json.loads(data)
    v2["version"] = 2
    v2["approved_licences"]["dataset"] = ["odc"]  # the DAO narrows data licences to Open Data Commons
    v2["indicators"][8]["params"]["statements"].append("environmental_impact")
    new = parse_standard(json.dumps(v2))
    meta = parse_metadata(EXAMPLE.read_bytes())

    report = check_asset(meta, new, standard_cid=cid_of(json.dumps(v2).encode()))

    assert not report.passed
    assert _status(report)["open_licence"] == "fail"
    assert "environmental_impact" in next(f for f in report.findings if f.key == "do_no_harm").evidence[-1]


def test_bad_metadata_names_the_field():
    with pytest.raises(MetadataError, match="kind"):
        parse_metadata(json.dumps(_example(kind="spreadsheet")))
    with pytest.raises(MetadataError, match=r"sdgs\.0\.goal"):
        parse_metadata(json.dumps(_example(sdgs=[{"goal": 18, "evidence": "x"}])))


def test_a_model_asset_is_checked_by_its_safetensors_and_card(tmp_path):
    # Prepare: a base model's files (weights, card, licence) and the same with a pickle checkpoint beside them
    import pickle

    from opendpg.fl.basemodel import ModelCard, save_base_model
    from opendpg.fl.models import build_model
    from opendpg.spec import ModelSpec

    network = build_model(ModelSpec(name="mlp", hidden_units=8), (4,), 3)
    card = ModelCard(name="mlp", hidden_units=8, input_shape=[4], outputs=3, head=["3.weight", "3.bias"],
                     trained_on="iris, public")
    folder = save_base_model(network, card, tmp_path / "model")
    (folder / "LICENSE").write_text(MIT_TEXT)
    meta = parse_metadata(json.dumps(_example(name="iris mlp", kind="model", licence="MIT", catalog_id=None)))
    standard, _, cid = shipped_standard()

    # Execute
    with open_files(folder) as files:
        good = check_asset(meta, standard, standard_cid=cid, files=files)
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(network.state_dict()))
    with open_files(folder) as files:
        pickled = check_asset(meta, standard, standard_cid=cid, files=files)

    # Assert: the weights are read by their header and the card named; a pickle fails the open-format indicator
    extraction = next(f for f in good.findings if f.key == "data_extraction")
    assert extraction.status == "pass"
    said = "\n".join(extraction.evidence)
    assert "weights: model.safetensors (safetensors), 4 tensors, 67 values" in said
    assert "card: mlp" in said and "trained on: iris, public" in said
    refused = next(f for f in pickled.findings if f.key == "data_extraction")
    assert refused.status == "fail" and "pytorch_model.bin: a pickle checkpoint" in refused.evidence[-1]
