// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IJobMarket} from "../../contracts/interfaces/IJobMarket.sol";
import {INodeRegistry} from "../../contracts/interfaces/INodeRegistry.sol";
import {MarketHandler} from "./MarketHandler.sol";
import {VM} from "./Vm.sol";

/// @notice The market's promises over random sequences of every public action (see {MarketHandler}), checked by
///         forge's invariant fuzzer after every call: the escrow balances to the wei, nobody is paid twice, locked
///         stake never exceeds stake, every job has a way out, a copied update is never accepted, and reputation
///         never exceeds the rounds actually paid.
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
                    _mustSucceed(address(0xCAFE), abi.encodeCall(IJobMarket.finalizeJob, (id)), 0, "cannot finalize");
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
