"""The DAO changes the DPG Standard through the real Governor and Timelock: propose, vote, queue, execute (with
time travel), after which the checker demands the new version; a defeated proposal cannot be queued; nothing
reaches the registry around the timelock."""

from __future__ import annotations

import json

import pytest

from opendpg.chain import SuiteParams
from opendpg.dpg import parse_metadata, shipped_standard
from opendpg.dpg.certification import Certification
from opendpg.errors import ContractRevert
from opendpg.governance import (
    SUPPORT,
    Proposal,
    ProposalError,
    find_proposal,
    proposal_status,
    publish_standard,
    revoke_asset,
    set_parameter,
)
from tests.python.dpg.test_checker import EXAMPLE

DAY = 86_400


def _v2() -> bytes:
    _, data, _ = shipped_standard()
    document = json.loads(data)
    document["version"] = 2
    document["approved_licences"]["dataset"] = ["odc"]  # data must now carry an Open Data Commons licence
    return json.dumps(document, indent=1).encode()


def _pass_vote(dao, proposal_id: int, votes: dict[int, str]) -> None:
    dao.pass_voting_delay()
    for index, choice in votes.items():
        dao.as_(dao.accounts[index]).governor.cast_vote(proposal_id, SUPPORT[choice], "test vote")
    dao.pass_voting_period()


def test_standard_change_through_the_governor_changes_the_checks(dao):
    # Prepare: a proposal to publish v2 and to lengthen certification votes to 5 days
    proposer = dao.as_(dao.accounts[5])
    actions = [publish_standard(proposer, dao.store, _v2()), set_parameter(proposer, "dpg.voting_period", "432000")]
    proposal_id = Proposal(actions, "DPG Standard v2: data under Open Data Commons licences only").submit(proposer)
    assert proposal_id == Proposal(actions, "DPG Standard v2: data under Open Data Commons licences only") \
        .compute_id(proposer)

    # Execute: vote it through, queue, wait out the timelock, execute
    _pass_vote(dao, proposal_id, {5: "for", 6: "for", 7: "against"})
    assert proposal_status(proposer, proposal_id)["state"] == "succeeded"
    found = find_proposal(proposer, proposal_id)
    proposer.governor.queue(found.targets, found.values, found.calldatas, found.description_hash)
    with pytest.raises(ContractRevert, match="TimelockUnexpectedOperationState"):
        proposer.governor.execute(found.targets, found.values, found.calldatas, found.description_hash)
    dao.travel(2 * DAY + 1)
    proposer.governor.execute(found.targets, found.values, found.calldatas, found.description_hash)

    # Assert: v2 is current, the parameter changed, and the same CC-BY dataset now fails the automated check
    status = proposal_status(proposer, proposal_id)
    assert status["state"] == "executed" and status["votes"]["for"] == 50_000_000 * 10**18
    version, cid = proposer.dpg.standard()
    assert version == 2 and dao.store.get(cid) == _v2()
    assert proposer.dpg.settings()["voting_period"] == 432_000
    owner, checker = (Certification(dao.as_(dao.accounts[i]), dao.store) for i in (8, 1))
    asset_id = owner.register(parse_metadata(EXAMPLE.read_bytes()))
    report = checker.check(asset_id)
    assert report.standard == {"version": 2, "cid": cid} and not report.passed
    with pytest.raises(ProposalError, match="must be greater"):
        publish_standard(proposer, dao.store, _v2())  # v2 again


def test_defeated_proposal_cannot_be_queued(dao):
    proposer = dao.as_(dao.accounts[7])
    proposal = Proposal([set_parameter(proposer, "dpg.quorum_bps", "0")], "Abolish the certification quorum")
    proposal_id = proposal.submit(proposer)

    _pass_vote(dao, proposal_id, {5: "against", 7: "for"})

    assert proposal_status(proposer, proposal_id)["state"] == "defeated"
    with pytest.raises(ContractRevert, match="GovernorUnexpectedProposalState"):
        proposer.governor.queue(proposal.targets, proposal.values, proposal.calldatas, proposal.description_hash)
    assert proposer.dpg.settings()["quorum_bps"] == SuiteParams().dpg_quorum_bps


def test_nothing_bypasses_the_timelock(dao):
    whale = dao.as_(dao.accounts[5])  # the biggest voter, acting alone
    with pytest.raises(ContractRevert, match="AccessControlUnauthorizedAccount"):
        whale.dpg.sender.transact(whale.dpg.contract.functions.setStandard(9, "bafkreibypass"))
    with pytest.raises(ContractRevert, match="AccessControlUnauthorizedAccount"):
        whale.dpg.sender.transact(whale.dpg.contract.functions.revoke(1, "bafkreibypass"))
    with pytest.raises(ContractRevert, match="GovernorOnlyExecutor"):
        whale.governor.sender.transact(whale.governor.contract.functions.relay(
            whale.dpg.address, 0, whale.dpg.encode("setStandard", 9, "bafkreibypass")))


def test_bad_proposals_are_refused_before_sending(dao):
    chain = dao.as_(dao.accounts[5])
    with pytest.raises(ProposalError, match="unknown parameter"):
        set_parameter(chain, "dpg.nonsense", "1")
    with pytest.raises(ProposalError, match="not a whole number"):
        set_parameter(chain, "dpg.quorum_bps", "lots")
    with pytest.raises(ProposalError, match="needs a description"):
        Proposal([set_parameter(chain, "dpg.quorum_bps", "500")], " ").submit(chain)
    with pytest.raises(ProposalError, match="no proposal 42"):
        find_proposal(chain, 42)


def test_governance_revokes_a_certification(dao):
    from tests.python.dpg.test_market import _certify

    asset_id = _certify(dao, 8, licence="ODbL-1.0")  # approved under v1 and under the v2 voted above
    proposer = dao.as_(dao.accounts[5])
    proposal = Proposal([revoke_asset(proposer, dao.store, asset_id, "the dataset turned out to hold personal data")],
                        f"Revoke the certification of asset {asset_id}")
    proposal_id = proposal.submit(proposer)

    _pass_vote(dao, proposal_id, {5: "for", 6: "for"})
    proposer.governor.queue(proposal.targets, proposal.values, proposal.calldatas, proposal.description_hash)
    dao.travel(2 * DAY + 1)
    proposer.governor.execute(proposal.targets, proposal.values, proposal.calldatas, proposal.description_hash)

    state = Certification(proposer, dao.store).state(asset_id)
    assert state.stage == "revoked" and not state.certified
    with pytest.raises(ProposalError, match="needs a reason"):
        revoke_asset(proposer, dao.store, asset_id, " ")
