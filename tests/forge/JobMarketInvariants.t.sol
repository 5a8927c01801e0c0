// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IDataLedger} from "../../contracts/interfaces/IDataLedger.sol";
import {IJobMarket} from "../../contracts/interfaces/IJobMarket.sol";
import {INodeRegistry} from "../../contracts/interfaces/INodeRegistry.sol";
import {IJobDisputes} from "../../contracts/interfaces/IJobDisputes.sol";
import {MarketHandler} from "./MarketHandler.sol";
import {VM} from "./Vm.sol";

/// @notice The market's promises over random sequences of every public action (see {MarketHandler}), checked by
///         forge's invariant fuzzer after every call: the escrow balances to the wei, nobody is paid twice, locked
///         stake never exceeds stake, every job has a way out, a copied update is never accepted, reputation
///         never exceeds the rounds actually paid, the dispute contract holds exactly the open bonds and those owed,
///         and an upheld dispute always pays its round.
contract JobMarketInvariants {
    MarketHandler internal handler;

    function setUp() public {
        handler = new MarketHandler();
    }

    /// @dev Forge fuzzes the handler's functions only.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice The market holds exactly the escrow not yet credited, the rewards credited and not yet claimed, and
    ///         the fees not yet withdrawn.
    function invariant_escrowBalancesToTheWei() public view {
        IJobMarket market = handler.market();
        uint256 owed = market.accruedFees(address(handler.token()));
        for (uint256 i = 0; i < handler.jobCount(); ++i) {
            uint256 id = handler.jobs(i);
            IJobMarket.Job memory j = market.getJob(id);
            owed += j.budget - j.credited;
            for (uint256 n = 0; n < handler.PROVIDERS(); ++n) {
                owed += market.claimable(id, handler.nodes(n));
            }
            owed += market.dataShareClaimable(id);
        }
        require(handler.token().balanceOf(address(market)) == owed, "escrow does not balance");
    }

    /// @notice A holder's spent privacy budget is exactly the epsilon of the data jobs it is in that were not
    ///         cancelled (left, displaced and cancelled-before-start spends come back), and never above its budget.
    function invariant_privacyBudgetsAddUp() public view {
        IJobMarket market = handler.market();
        for (uint256 n = 0; n < handler.PROVIDERS(); ++n) {
            address p = handler.nodes(n);
            uint256 expected = 0;
            for (uint256 i = 0; i < handler.jobCount(); ++i) {
                uint256 id = handler.jobs(i);
                IJobMarket.DataTerms memory terms = market.dataTermsOf(id);
                bool counts = market.participantOf(id, p).slot != 0
                    && market.getJob(id).state != IJobMarket.JobState.Cancelled;
                uint256 spent = handler.ledger().spendOf(id, p).epsilon;
                require(spent == (counts ? terms.epsilon : 0), "a spend other than the job's terms");
                expected += spent;
            }
            IDataLedger.Holding memory holding = handler.ledger().holdingOf(p, handler.dataset());
            require(holding.spent == expected, "spent budget is not the sum of the spends");
            require(holding.spent <= holding.budget, "spent above the budget");
        }
    }

    /// @notice What a provider received from a job is exactly the rounds it claimed times the job's net reward.
    function invariant_nobodyIsPaidTwice() public view {
        IJobMarket market = handler.market();
        for (uint256 i = 0; i < handler.jobCount(); ++i) {
            uint256 id = handler.jobs(i);
            IJobMarket.Job memory j = market.getJob(id);
            uint256 net = j.rewardPerRound - (uint256(j.rewardPerRound) * j.feeBps) / 10_000;
            for (uint256 n = 0; n < handler.PROVIDERS(); ++n) {
                address p = handler.nodes(n);
                require(handler.paid(id, p) == uint256(market.participantOf(id, p).claimedRounds) * net,
                        "paid other than the rounds claimed");
            }
        }
    }

    /// @notice Locked stake never exceeds stake, and the registry holds every node's stake and unbonding.
    function invariant_lockedStakeNeverAboveStake() public view {
        INodeRegistry registry = handler.registry();
        uint256 held;
        for (uint256 n = 0; n < handler.nodeCount(); ++n) {
            INodeRegistry.Stake memory s = registry.stakeOf(handler.nodes(n));
            require(s.locked <= s.staked, "locked above staked");
            held += uint256(s.staked) + s.unbonding;
        }
        require(handler.token().balanceOf(address(registry)) == held, "registry does not hold the stakes");
    }

    /// @notice The dispute contract holds the bonds of open disputes and those owed to winners, to the wei; an upheld
    ///         dispute credits its round; a job's hold count is its open disputes.
    function invariant_disputesBalanceAndPay() public view {
        IJobDisputes disputes = handler.disputes();
        uint256 held;
        for (uint256 i = 1; i <= disputes.disputeCount(); ++i) {
            IJobDisputes.Dispute memory d = disputes.getDispute(i);
            if (d.state == IJobDisputes.DisputeState.Open) held += d.bond;
        }
        for (uint256 n = 0; n < handler.nodeCount(); ++n) {
            held += disputes.owed(handler.nodes(n));
        }
        require(handler.token().balanceOf(address(disputes)) == held, "bonds do not balance");
        require(handler.upheldUnpaid() == 0, "an upheld dispute did not pay its round");
        IJobMarket market = handler.market();
        for (uint256 i = 0; i < handler.jobCount(); ++i) {
            uint256 id = handler.jobs(i);
            uint256 open;
            for (uint256 k = 1; k <= disputes.disputeCount(); ++k) {
                IJobDisputes.Dispute memory d = disputes.getDispute(k);
                if (d.jobId == id && d.state == IJobDisputes.DisputeState.Open) ++open;
            }
            (uint256 holds,,) = market.disputeStatus(id);
            require(holds == open, "a job's holds are not its open disputes");
        }
    }

    /// @notice A hash submitted by one provider is never accepted from another in the same round.
    function invariant_copiedUpdatesAreRefused() public view {
        require(handler.copiesAccepted() == 0, "a copied update hash was accepted");
    }

    /// @notice Reputation counts only rounds that were used and paid.
    function invariant_reputationOnlyFromPaidRounds() public view {
        IJobMarket market = handler.market();
        for (uint256 n = 0; n < handler.PROVIDERS(); ++n) {
            address p = handler.nodes(n);
            uint256 earned;
            for (uint256 i = 0; i < handler.jobCount(); ++i) {
                uint256 id = handler.jobs(i);
                IJobMarket.Job memory j = market.getJob(id);
                uint256 net = j.rewardPerRound - (uint256(j.rewardPerRound) * j.feeBps) / 10_000;
                earned += market.participantOf(id, p).claimedRounds + (net == 0 ? 0 : market.claimable(id, p) / net);
            }
            require(handler.registry().reputationOf(p).roundsDelivered <= earned, "reputation without paid rounds");
        }
    }

    /// @notice No job is stuck: an open job can be cancelled (by its poster now, by anyone after its start
    ///         deadline); a running job with a round in progress can be closed by its coordinator once the round
    ///         deadline passed (even with nothing used), or aborted by anyone after the commit deadline; a running
    ///         job with no round in progress can be finalized. Each way out is tried and undone.
    function invariant_everyJobHasAWayOut() public {
        IJobMarket market = handler.market();
        for (uint256 i = 0; i < handler.jobCount(); ++i) {
            uint256 id = handler.jobs(i);
            IJobMarket.Job memory j = market.getJob(id);
            if (j.state == IJobMarket.JobState.Open) {
                _mustSucceed(j.poster, abi.encodeCall(IJobMarket.cancelJob, (id)), 0, "the poster cannot cancel");
                _mustSucceed(address(0xCAFE), abi.encodeCall(IJobMarket.cancelJob, (id)),
                             uint256(j.joinDeadline) + j.roundTimeout + 1, "nobody can cancel after the start deadline");
            } else if (j.state == IJobMarket.JobState.Running) {
                if (j.committedRounds >= j.rounds || j.activeCount < j.minProviders) {
                    (uint256 open, uint256 windowEnd,) = market.disputeStatus(id);
                    if (open == 0) {
                        _mustSucceed(address(0xCAFE), abi.encodeCall(IJobMarket.finalizeJob, (id)), windowEnd + 1,
                                     "cannot finalize after the dispute window");
                    }
                } else {
                    bytes memory close = abi.encodeCall(IJobMarket.commitRound,
                        (id, j.committedRounds + 1, bytes32(uint256(1)), "bafkreiempty", uint256(0)));
                    if (block.timestamp <= uint256(j.roundDeadline) + j.roundTimeout) {
                        _mustSucceed(j.coordinator, close, j.roundDeadline + 1,
                                     "the coordinator cannot close the round after its deadline");
                    }
                    _mustSucceed(address(0xCAFE), abi.encodeCall(IJobMarket.abortJob, (id)),
                                 uint256(j.roundDeadline) + j.roundTimeout + 1, "nobody can abort after the commit deadline");
                }
            }
        }
    }

    /// @notice An open dispute can always be lapsed once its decision period is over (its job then goes on).
    function invariant_everyDisputeEnds() public {
        IJobDisputes disputes = handler.disputes();
        for (uint256 i = 1; i <= disputes.disputeCount(); ++i) {
            IJobDisputes.Dispute memory d = disputes.getDispute(i);
            if (d.state != IJobDisputes.DisputeState.Open) continue;
            address target = address(disputes);
            uint256 snapshot = VM.snapshotState();
            if (uint256(d.decideBy) + 1 > block.timestamp) VM.warp(uint256(d.decideBy) + 1);
            (bool ok,) = target.call(abi.encodeCall(IJobDisputes.lapse, (i)));
            VM.revertToState(snapshot);
            require(ok, "an open dispute cannot be lapsed after its decision period");
        }
    }

    function _mustSucceed(address caller, bytes memory call, uint256 at, string memory failure) internal {
        address market = address(handler.market()); // before the prank: it applies to the next call only
        uint256 snapshot = VM.snapshotState();
        if (at > block.timestamp) VM.warp(at);
        VM.prank(caller);
        (bool ok,) = market.call(call);
        VM.revertToState(snapshot);
        require(ok, failure);
    }
}
