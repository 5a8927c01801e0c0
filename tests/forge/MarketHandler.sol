// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {CommonsToken} from "../../contracts/token/CommonsToken.sol";
import {NodeRegistry} from "../../contracts/nodes/NodeRegistry.sol";
import {JobMarket} from "../../contracts/jobs/JobMarket.sol";
import {JobDisputes} from "../../contracts/jobs/JobDisputes.sol";
import {DPGRegistry} from "../../contracts/dpg/DPGRegistry.sol";
import {DataLedger} from "../../contracts/data/DataLedger.sol";
import {IDPGRegistry} from "../../contracts/interfaces/IDPGRegistry.sol";
import {IJobDisputes} from "../../contracts/interfaces/IJobDisputes.sol";
import {IJobMarket} from "../../contracts/interfaces/IJobMarket.sol";
import {INodeRegistry} from "../../contracts/interfaces/INodeRegistry.sol";
import {Roles} from "../../contracts/libraries/Roles.sol";
import {VM} from "./Vm.sol";

/// @notice Every public action of posters, providers, coordinators and governance on the real market and node
///         registry, with fuzzed but mostly valid arguments; a refused action is not a failure (the invariants
///         judge the state). Ghost variables record what the invariants need: what each provider was paid, and
///         whether a copied update hash was ever accepted.
contract MarketHandler {
    uint256 public constant MAX_JOBS = 8;
    uint256 public constant PROVIDERS = 5;
    address public constant TREASURY = address(0x7EA5);

    CommonsToken public immutable token;
    NodeRegistry public immutable registry;
    JobMarket public immutable market;
    JobDisputes public immutable disputes;
    DPGRegistry public immutable dpg;
    DataLedger public immutable ledger;
    /// @dev The dataset asset every provider holds (half the jobs train on it), and its schema fingerprint.
    uint256 public immutable dataset;
    bytes32 public constant SCHEMA = keccak256("schema");
    address[3] public committee = [address(0xC0111), address(0xC0112), address(0xC0113)];

    address[] public nodes; // providers first, then the coordinators
    address[2] public posters = [address(0xB0570), address(0xB0571)];
    uint256[] public jobs;

    mapping(uint256 jobId => mapping(address provider => uint256)) public paid;
    mapping(uint256 jobId => mapping(uint16 round => bytes32)) public lastHash;
    mapping(uint256 jobId => mapping(uint16 round => address)) public lastSubmitter;
    uint256 public copiesAccepted;
    mapping(uint256 jobId => mapping(uint16 round => mapping(address provider => bytes32))) public submitted;
    uint256[] public disputeIds;
    /// @dev Upheld disputes whose round was not credited to the provider (must stay 0).
    uint256 public upheldUnpaid;
    mapping(bytes32 action => uint256) public done;

    constructor() {
        token = new CommonsToken("Commons", "DPG", address(this), 1e30);
        registry = new NodeRegistry(token, address(this), TREASURY, 100e18, 7 days);
        market = new JobMarket(registry, address(this), 100,
            IJobMarket.Limits({minJoinWindow: 60, maxJoinWindow: 30 days, minRoundTimeout: 30, maxRoundTimeout: 7 days,
                               minReputationReward: 1e18, minReputationStake: 10e18, disputeWindow: 1 hours}));
        registry.grantRole(Roles.STAKE_MANAGER_ROLE, address(market));
        address[] memory members = new address[](3);
        for (uint256 i = 0; i < 3; ++i) {
            members[i] = committee[i];
        }
        dpg = new DPGRegistry(token, address(this), DPGRegistry.Settings({votingPeriod: 3 days, quorumBps: 1000,
            approvalBps: 5000, certificationPeriod: 365 days, reviewTimeout: 30 days, standardVersion: 1,
            standardCid: "bafkreistandard", committee: members, committeeThreshold: 2}));
        disputes = new JobDisputes(market, dpg, address(this), 50e18, 50e18, 1 days);
        market.grantRole(Roles.DISPUTES_ROLE, address(disputes));
        ledger = new DataLedger(registry, dpg, address(this));
        market.setDpgRegistry(address(dpg));
        market.setDataLedger(address(ledger));
        ledger.grantRole(Roles.DATA_SPENDER_ROLE, address(market));
        VM.prank(posters[0]);
        dataset = dpg.registerAsset(IDPGRegistry.AssetKind.Dataset, "bafkreidataset", "LicenseRef-terms");
        for (uint256 i = 0; i < PROVIDERS + 2; ++i) {
            address node = address(uint160(0xA0DE00 + i));
            nodes.push(node);
            token.transfer(node, 10_000e18);
            VM.startPrank(node);
            token.approve(address(registry), type(uint256).max);
            token.approve(address(disputes), type(uint256).max);
            registry.register(INodeRegistry.Capabilities("", 0, 1, 0, "", new bytes32[](0), ""), 1_000e18);
            ledger.declareHolding(dataset, SCHEMA, 500, 5e6, 1e13, i % 2 == 1); // 5 epsilon; odd ones require DP
            VM.stopPrank();
        }
        for (uint256 i = 0; i < posters.length; ++i) {
            token.transfer(posters[i], 1e24);
            VM.prank(posters[i]);
            token.approve(address(market), type(uint256).max);
        }
    }

    // ------------------------------------------------------------------ posters

    /// @dev One job in three is plain; the others train on the held dataset, spending 0 to 3 epsilon per provider.
    function post(uint8 poster, uint8 coordinator, uint96 reward, uint8 rounds, uint8 minP, uint8 maxP, uint96 stake,
                  uint32 joinWindow, uint32 timeout, uint96 extra, uint8 data) external {
        if (jobs.length >= MAX_JOBS) return;
        uint8 max_ = uint8(1 + maxP % 4);
        IJobMarket.JobParams memory p = IJobMarket.JobParams({
            specCid: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
            paymentToken: address(token),
            budget: 0,
            rewardPerRound: uint96(1 + reward % 5e18),
            rounds: uint16(1 + rounds % 4),
            minProviders: uint8(1 + minP % max_),
            maxProviders: max_,
            requiredStake: uint96(stake % 400e18),
            joinDeadline: uint64(block.timestamp + 50 + joinWindow % 6 hours), // now and then below the minimum
            roundTimeout: uint32(25 + timeout % 2 hours), // now and then below the minimum
            coordinator: nodes[PROVIDERS + coordinator % 2]
        });
        p.budget = uint96(uint256(p.rewardPerRound) * p.rounds * p.maxProviders + extra % 10e18);
        VM.prank(posters[poster % 2]);
        if (data % 3 == 0) {
            try market.postJob(p) returns (uint256 jobId) {
                jobs.push(jobId);
                ++done["postJob"];
            } catch {}
            return;
        }
        uint64 epsilon = uint64(data % 4) * 1e6;
        IJobMarket.DataTerms memory terms = IJobMarket.DataTerms(dataset, SCHEMA, epsilon, epsilon == 0 ? 0 : 1e13);
        try market.postJobWithData(p, IJobMarket.Requirements(0, bytes32(0), false, 0), terms) returns (uint256 jobId) {
            jobs.push(jobId);
            ++done["postJobWithData"];
        } catch {}
    }

    /// @dev A provider declares its holding again with another budget (refused below what it spent).
    function declare(uint8 provider, uint32 budget) external {
        VM.prank(nodes[provider % PROVIDERS]);
        try ledger.declareHolding(dataset, SCHEMA, 500, budget % 10e6, 1e13, provider % 2 == 1) {
            ++done["declareHolding"];
        } catch {}
    }

    /// @dev By its poster one time in four (who may cancel at once), else by a stranger (only after the start
    ///      deadline): jobs mostly live on.
    function cancel(uint8 job, uint8 who) external {
        (uint256 id, IJobMarket.Job memory j) = _job(job);
        VM.prank(who % 4 == 0 ? j.poster : nodes[0]);
        try market.cancelJob(id) { ++done["cancelJob"]; } catch {}
    }

    function abort(uint8 job) external {
        (uint256 id,) = _job(job);
        VM.prank(posters[0]);
        try market.abortJob(id) { ++done["abortJob"]; } catch {}
    }

    function refund(uint8 job) external {
        (uint256 id, IJobMarket.Job memory j) = _job(job);
        VM.prank(j.poster);
        try market.claimRefund(id) { ++done["claimRefund"]; } catch {}
    }

    // ------------------------------------------------------------------ providers

    function join(uint8 job, uint8 provider) external {
        (uint256 id,) = _job(job);
        VM.prank(nodes[provider % PROVIDERS]);
        try market.joinJob(id) { ++done["joinJob"]; } catch {}
    }

    function leave(uint8 job, uint8 provider) external {
        (uint256 id,) = _job(job);
        address[] memory joined = market.providersOf(id);
        VM.prank(joined.length == 0 ? nodes[provider % PROVIDERS] : joined[provider % joined.length]);
        try market.leaveJob(id) { ++done["leaveJob"]; } catch {}
    }

    /// @dev A provider of the job (mostly); with `copy`, it submits the hash another provider submitted last in
    ///      this round.
    function submit(uint8 job, uint8 provider, uint64 seed, bool copy) external {
        (uint256 id, IJobMarket.Job memory j) = _job(job);
        uint16 round = j.committedRounds + 1;
        address[] memory joined = market.providersOf(id);
        address who = joined.length == 0 || seed % 8 == 0 ? nodes[provider % PROVIDERS] : joined[provider % joined.length];
        bytes32 h = copy ? lastHash[id][round] : keccak256(abi.encode(id, round, who, seed));
        if (h == bytes32(0)) h = keccak256(abi.encode(seed));
        VM.prank(who);
        try market.submitUpdate(id, round, h, "bafkreiupdate") {
            ++done["submitUpdate"];
            if (copy && lastSubmitter[id][round] != address(0) && lastSubmitter[id][round] != who) ++copiesAccepted;
            lastHash[id][round] = h;
            lastSubmitter[id][round] = who;
            submitted[id][round][who] = h;
        } catch {}
    }

    function claim(uint8 job, uint8 provider) external {
        (uint256 id,) = _job(job);
        address[] memory joined = market.providersOf(id);
        address who = joined.length == 0 ? nodes[provider % PROVIDERS] : joined[provider % joined.length];
        uint256 before = token.balanceOf(who);
        VM.prank(who);
        try market.claim(id) {
            ++done["claim"];
            paid[id][who] += token.balanceOf(who) - before;
        } catch {}
    }

    // ------------------------------------------------------------------ coordinators

    function start(uint8 job) external {
        (uint256 id, IJobMarket.Job memory j) = _job(job);
        VM.prank(j.coordinator);
        try market.startJob(id) { ++done["startJob"]; } catch {}
    }

    /// @dev Mostly `used` among the providers that submitted this round (an honest coordinator's choice); now and
    ///      then any subset of the active set, which the contract must judge.
    function commit(uint8 job, uint256 used) external {
        (uint256 id, IJobMarket.Job memory j) = _job(job);
        uint16 round = j.committedRounds + 1;
        uint256 mask = used & j.activeBitmap;
        if (used % 8 != 0) {
            address[] memory joined = market.providersOf(id);
            for (uint256 i = 0; i < joined.length; ++i) {
                if (market.participantOf(id, joined[i]).submittedRound != round) mask &= ~(uint256(1) << i);
            }
        }
        VM.prank(j.coordinator);
        try market.commitRound(id, round, keccak256(abi.encode(id, used)), "bafkreiglobal", mask) {
            ++done["commitRound"];
            if (mask != 0) ++done["commitRound (paid)"];
        } catch {}
    }

    /// @dev With `patient`, the caller waits for the job's dispute window to close first.
    function finalize(uint8 job, bool patient) external {
        (uint256 id,) = _job(job);
        (, uint256 windowEnd,) = market.disputeStatus(id);
        if (patient && windowEnd >= block.timestamp) VM.warp(windowEnd + 1);
        try market.finalizeJob(id) { ++done["finalizeJob"]; } catch {}
    }

    // ------------------------------------------------------------------ disputes

    /// @dev A provider of the job disputes its update of a past round (mostly one it submitted; the contract judges
    ///      whether it was excluded, committed, in time).
    function dispute(uint8 job, uint8 provider, uint16 round) external {
        (uint256 id, IJobMarket.Job memory j) = _job(job);
        if (j.committedRounds == 0) return;
        address[] memory joined = market.providersOf(id);
        if (joined.length == 0) return;
        address who = joined[provider % joined.length];
        uint16 r = uint16(1 + round % j.committedRounds);
        bytes32 h = submitted[id][r][who];
        if (h == bytes32(0)) h = lastHash[id][r];
        VM.prank(who);
        try disputes.openDispute(id, r, h, "bafkreievidence") returns (uint256 disputeId) {
            disputeIds.push(disputeId);
            ++done["openDispute"];
        } catch {}
    }

    /// @dev Two committee members (the threshold) vote the same way, now and then a single one.
    function decide(uint8 index, bool uphold, bool alone) external {
        if (disputeIds.length == 0) return;
        uint256 disputeId = disputeIds[index % disputeIds.length];
        IJobDisputes.Dispute memory d = disputes.getDispute(disputeId);
        uint256 credited = market.getJob(d.jobId).credited;
        for (uint256 i = 0; i < (alone ? 1 : 2); ++i) {
            VM.prank(committee[(index + i) % 3]);
            try disputes.vote(disputeId, uphold, "bafkreireason") { ++done["vote"]; } catch {}
        }
        if (disputes.getDispute(disputeId).state == IJobDisputes.DisputeState.Upheld && d.state != IJobDisputes.DisputeState.Upheld) {
            ++done["vote (upheld)"];
            if (market.getJob(d.jobId).credited != credited + market.getJob(d.jobId).rewardPerRound) ++upheldUnpaid;
        }
    }

    /// @dev With `patient`, the caller waits for the dispute's decision period to end first.
    function lapse(uint8 index, bool patient) external {
        if (disputeIds.length == 0) return;
        uint256 disputeId = disputeIds[index % disputeIds.length];
        uint256 decideBy = disputes.getDispute(disputeId).decideBy;
        if (patient && decideBy >= block.timestamp) VM.warp(decideBy + 1);
        try disputes.lapse(disputeId) { ++done["lapse"]; } catch {}
    }

    function withdrawBond(uint8 who) external {
        address account = nodes[who % nodes.length];
        VM.prank(account);
        try disputes.withdraw() { ++done["withdrawBond"]; } catch {}
    }

    // ------------------------------------------------------------------ everyone, governance, time

    function withdrawFees() external {
        try market.withdrawFees(address(token)) { ++done["withdrawFees"]; } catch {}
    }

    function setFee(uint16 bps) external {
        try market.setProtocolFeeBps(bps % 1200) { ++done["setProtocolFeeBps"]; } catch {}
    }

    function warp(uint32 seconds_) external {
        VM.warp(block.timestamp + (seconds_ % 16 == 0 ? seconds_ % 2 days : seconds_ % 30 minutes));
    }

    // ------------------------------------------------------------------ for the invariants

    function jobCount() external view returns (uint256) {
        return jobs.length;
    }

    function nodeCount() external view returns (uint256) {
        return nodes.length;
    }

    function disputeCount() external view returns (uint256) {
        return disputeIds.length;
    }

    function _job(uint8 job) internal view returns (uint256 id, IJobMarket.Job memory j) {
        if (jobs.length == 0) return (0, j);
        id = job % 2 == 0 ? jobs[jobs.length - 1] : jobs[(job >> 1) % jobs.length]; // the newest job half the time
        j = market.getJob(id);
    }
}
