"""DPG certification through the gateway, on a chain of its own (time travel): a user without a wallet submits
an asset, a checker attests the automated check, users vote with their delegated weight next to token holders
with wallets, the vote is closed, a committee member whom the DAO appointed through the Governor decides, the
report is readable, reviewers are paid; a rejection needs its reason; the certification expires and the owner
renews it. Every refusal is a 4xx naming the rule."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from opendpg.dpg.certification import Certification
from opendpg.governance import SUPPORT, Proposal, add_committee_member
from tests.python.dpg.test_checker import EXAMPLE
from tests.python.gateway.conftest import Gateway, _serve

DAY = 86_400


@pytest.fixture(scope="module", params=["sqlite"])
def cgw(request, tmp_path_factory, dao) -> Iterator[Gateway]:
    path = tmp_path_factory.mktemp("cert-chain") / "deployment.json"
    dao.deployment.save(path)
    env = {"OPENDPG_RPC_URL": dao.local.rpc_url, "OPENDPG_DEPLOYMENT_FILE": str(path),
           "OPENDPG_IPFS_API": dao.store.api_url, "OPENDPG_PRIVATE_KEY": dao.accounts[0].key.hex()}
    yield from _serve(request, tmp_path_factory, env)


def _user(gw: Gateway) -> tuple[dict, dict[str, str]]:
    email = f"cert-{uuid.uuid4().hex[:8]}@example.org"
    user = gw.sign_up(email)
    auth = gw.login(email)
    assert gw.client.post("/faucet", headers=auth).status_code == 200
    return user, auth


def _appoint(dao, address: str) -> None:
    """The DAO adds ``address`` to the expert committee: propose, vote, queue, wait, execute."""
    whale = dao.as_(dao.accounts[5])
    proposal = Proposal([add_committee_member(whale, address)], f"Appoint {address} to the expert committee")
    proposal_id = proposal.submit(whale)
    dao.pass_voting_delay()
    for i in (5, 6):
        dao.as_(dao.accounts[i]).governor.cast_vote(proposal_id, SUPPORT["for"])
    dao.pass_voting_period()
    whale.governor.queue(proposal.targets, proposal.values, proposal.calldatas, proposal.description_hash)
    dao.travel(2 * DAY + 1)
    whale.governor.execute(proposal.targets, proposal.values, proposal.calldatas, proposal.description_hash)


def _submit(gw: Gateway, auth: dict[str, str], **changes) -> dict:
    meta = json.loads(EXAMPLE.read_text()) | changes
    body = {"kind": "dataset", "name": meta.pop("name"), "licence": meta.pop("licence"),
            "description": meta.pop("description"), "metadata": {k: v for k, v in meta.items()
                                                                  if k not in ("schema", "kind")}}
    response = gw.client.post("/assets", json=body, headers=auth)
    assert response.status_code == 201, response.text
    return response.json()


def test_certification_through_the_gateway(cgw, dao):
    # Prepare: an owner, a voter (votes delegated before the review opens), a committee member the DAO appoints
    gw = cgw
    _, owner_auth = _user(gw)
    _, voter_auth = _user(gw)
    member, member_auth = _user(gw)
    delegated = gw.client.post("/governance/delegate", headers=voter_auth)
    assert delegated.status_code == 200 and delegated.json()["votes"] == "1000"
    _appoint(dao, member["address"])
    checker = Certification(dao.as_(dao.accounts[1]), dao.store)
    votes_cast_by = [Certification(dao.as_(dao.accounts[i]), dao.store) for i in (5, 6)]

    # Execute: submit; the checker attests; votes (gateway + wallets); close; two approvals
    asset = _submit(gw, owner_auth)
    checker.attest(asset["id"], checker.check(asset["id"]))
    voting = gw.client.get(f"/assets/{asset['id']}", headers=voter_auth).json()
    voted = gw.client.post(f"/assets/{asset['id']}/votes", json={"support": True}, headers=voter_auth)
    twice = gw.client.post(f"/assets/{asset['id']}/votes", json={"support": True}, headers=voter_auth)
    no_weight = gw.client.post(f"/assets/{asset['id']}/votes", json={"support": False}, headers=owner_auth)
    early = gw.client.post(f"/assets/{asset['id']}/close", headers=owner_auth)
    for cert in votes_cast_by:
        cert.vote(asset["id"], True)
    dao.travel(dao.admin.dpg.settings()["voting_period"] + 1)
    closed = gw.client.post(f"/assets/{asset['id']}/close", headers=owner_auth)
    outsider = gw.client.post(f"/assets/{asset['id']}/decisions", json={"approve": True}, headers=owner_auth)
    approved = gw.client.post(f"/assets/{asset['id']}/decisions", json={"approve": True}, headers=member_auth)
    Certification(dao.as_(dao.accounts[2]), dao.store).decide(asset["id"], True)
    certified = gw.client.get(f"/assets/{asset['id']}", headers=owner_auth).json()
    paid = gw.client.post(f"/assets/{asset['id']}/rewards", headers=member_auth)
    voter_paid = gw.client.post(f"/assets/{asset['id']}/rewards", headers=voter_auth)

    # Assert
    assert voting["stage"] == "voting" and voting["report"]["passed"] and not voting["voted"]
    assert [f["status"] for f in voting["report"]["findings"]].count("review") == 2
    assert voted.status_code == 200 and voted.json()["voted"] and voted.json()["review"]["for_votes"] == "1000"
    assert twice.status_code == 409 and twice.json()["detail"][0]["type"] == "DPGRegistryAlreadyVoted"
    assert no_weight.status_code == 403 and "POST /governance/delegate" in no_weight.json()["detail"][0]["msg"]
    assert early.status_code == 409 and early.json()["detail"][0]["type"] == "DPGRegistryVotingStillOpen"
    assert closed.status_code == 200 and closed.json()["stage"] == "committee-review"
    assert outsider.status_code == 403 and outsider.json()["detail"][0]["type"] == "DPGRegistryNotCommitteeMember"
    assert approved.status_code == 200 and approved.json()["committee_member"]
    assert certified["stage"] == "certified" and certified["certified"] and certified["review"]["approvals"] == 2
    assert paid.status_code == 200 and paid.json() == {"voter": "0", "committee": "50"}
    assert voter_paid.status_code == 200 and float(voter_paid.json()["voter"]) > 0

    # and a year later the certification has lapsed; only the owner may renew it
    dao.travel(366 * DAY)
    lapsed = gw.client.get(f"/assets/{asset['id']}", headers=owner_auth).json()
    not_owner = gw.client.post(f"/assets/{asset['id']}/renew", headers=voter_auth)
    renewed = gw.client.post(f"/assets/{asset['id']}/renew", headers=owner_auth)
    assert lapsed["stage"] == "certified" and not lapsed["certified"]
    assert not_owner.status_code == 403 and not_owner.json()["detail"][0]["type"] == "DPGRegistryNotOwner"
    assert renewed.status_code == 200 and renewed.json()["stage"] == "awaiting-check"
    assert renewed.json()["review"]["number"] == 2


def test_a_rejection_needs_its_reason_and_a_bad_licence_fails_the_check(cgw, dao):
    gw = cgw
    _, owner_auth = _user(gw)
    checker = Certification(dao.as_(dao.accounts[1]), dao.store)
    committee = [Certification(dao.as_(dao.accounts[i]), dao.store) for i in (2, 3, 4)]

    bad = _submit(gw, owner_auth, licence="CC-BY-NC-4.0")
    checker.attest(bad["id"], checker.check(bad["id"]))
    failed = gw.client.get(f"/assets/{bad['id']}", headers=owner_auth).json()
    asset = _submit(gw, owner_auth)
    checker.attest(asset["id"], checker.check(asset["id"]))
    for i in (5, 6):
        Certification(dao.as_(dao.accounts[i]), dao.store).vote(asset["id"], True)
    dao.travel(dao.admin.dpg.settings()["voting_period"] + 1)
    gw.client.post(f"/assets/{asset['id']}/close", headers=owner_auth)
    reasonless = gw.client.post(f"/assets/{asset['id']}/decisions", json={"approve": False}, headers=owner_auth)
    settings = dao.admin.dpg.settings()
    needed = settings["committee_size"] - settings["committee_threshold"] + 1  # the threshold out of reach
    for cert in committee[:needed]:
        cert.decide(asset["id"], False, "consent for secondary use is not documented")
    rejected = gw.client.get(f"/assets/{asset['id']}", headers=owner_auth).json()

    assert failed["stage"] == "check-failed" and not failed["report"]["passed"]
    licence = next(f for f in failed["report"]["findings"] if f["key"] == "open_licence")
    assert licence["status"] == "fail" and any("NonCommercial" in line for line in licence["evidence"])
    assert reasonless.status_code == 422 and reasonless.json()["detail"][0]["loc"] == ["body", "reason"]
    assert rejected["stage"] == "rejected" and rejected["review"]["rejections"] == needed
    assert gw.client.get("/assets/9999", headers=owner_auth).status_code == 404


def test_a_base_model_is_published_through_the_gateway_and_bad_files_are_refused(cgw, dao, tmp_path):
    # Prepare: a base model's files (safetensors and card), the same with a pickle beside them, and junk
    import pickle

    from opendpg.dpg.certification import pack_files
    from opendpg.fl.basemodel import ModelCard, save_base_model
    from opendpg.fl.models import build_model
    from opendpg.spec import ModelSpec

    _, auth = _user(cgw)
    network = build_model(ModelSpec(name="mlp", hidden_units=8), (4,), 3)
    folder = save_base_model(network, ModelCard(name="mlp", hidden_units=8, input_shape=[4], outputs=3,
                                                head=["3.weight", "3.bias"]), tmp_path / "base")
    good = pack_files(folder)
    (tmp_path / "pickled").mkdir()
    (tmp_path / "pickled" / "pytorch_model.bin").write_bytes(pickle.dumps(network.state_dict()))
    pickled = pack_files(tmp_path / "pickled")

    # Execute: upload each archive, then register a model asset naming its CID
    def upload(data: bytes):
        return cgw.client.post("/assets/files", content=data, headers={**auth, "Content-Type": "application/x-tar"})

    def register(files_cid: str):
        meta = json.loads(EXAMPLE.read_text())
        return cgw.client.post("/assets", headers=auth, json={
            "kind": "model", "name": "tiny mlp base", "licence": "Apache-2.0", "description": "a base model",
            "certify": False, "metadata": {"owner": meta["owner"], "files_cid": files_cid}})

    pinned = upload(good)
    registered = register(pinned.json()["cid"])
    junk = upload(b"not an archive at all")
    empty = upload(b"")
    pickle_cid = upload(pickled).json()["cid"]
    refused = register(pickle_cid)

    # Assert: the good files are pinned under their CID and the asset points at them; the rest name the problem
    assert pinned.status_code == 201 and dao.store.get(pinned.json()["cid"]) == good
    assert registered.status_code == 201, registered.text
    asset = dao.admin.dpg.get_asset(registered.json()["id"])
    assert json.loads(dao.store.get(asset["metadata_cid"]))["files_cid"] == pinned.json()["cid"]
    assert junk.status_code == 422 and "not a folder, .tar(.gz) or .zip archive" in junk.text
    assert empty.status_code == 422 and "empty body" in empty.text
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["loc"] == ["body", "metadata", "files_cid"]
    assert "pytorch_model.bin: a pickle checkpoint cannot be published" in refused.json()["detail"][0]["msg"]
