// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title IDataLedger
/// @notice Who holds which dataset asset (records conforming to its schema, in their own files), and each holder's
///         differential-privacy budget for it, spent by the jobs it joins.
/// @dev A registered node declares a holding of a DPG-registry dataset asset: the fingerprint of the asset's schema
///      its files conform to (SHA-256 of the canonical schema JSON), how many records it holds, its total privacy
///      budget `budget` (epsilon, in millionths) at `delta` (in 1e-18 units), and whether it takes only jobs that
///      use differential privacy. Nothing about any single record is recorded. A job on held data names the asset,
///      schema, and the (epsilon, delta) it spends per provider; when a provider joins, the job market calls
///      `spend`, which refuses a holder of another schema, a job without DP when the holder requires it, a delta
///      above the holder's, and a spend beyond the remaining budget. A spend is given back (`release`) only while
///      the data was never trained on: the provider left or was displaced before the start, or the job was
///      cancelled unstarted. Spends are events anyone can sum; a spend is never forgotten, even when the holding
///      is withdrawn or declared again.
interface IDataLedger {
    struct Holding {
        bytes32 schema; // fingerprint of the dataset schema; zero when not (or no longer) held
        uint64 records;
        uint64 budget; // total epsilon, in millionths
        uint64 spent; // epsilon spent by joined jobs, in millionths
        uint64 delta; // the budget's delta, in 1e-18 units
        bool requiresDp;
    }

    /// @notice A join's spend, kept until the job's data use is final.
    struct Spend {
        uint64 assetId;
        uint64 epsilon;
    }

    // ---------------------------------------------------------------- errors
    /// @notice `account` is not a registered node: only nodes hold data.
    error DataLedgerNotANode(address account);
    /// @notice Asset `assetId` is not a dataset in the DPG registry.
    error DataLedgerNotADataset(uint256 assetId);
    /// @notice Field `field` is invalid.
    error DataLedgerInvalidInput(string field);
    /// @notice The budget `budget` is below what `holder` already spent, `spent`.
    error DataLedgerBudgetBelowSpent(address holder, uint256 assetId, uint256 budget, uint256 spent);
    /// @notice `holder` does not hold `assetId` with schema `schema` (it holds `held`, zero for none).
    error DataLedgerNotHeld(address holder, uint256 assetId, bytes32 schema, bytes32 held);
    /// @notice `holder` takes only jobs with differential privacy on `assetId`; this job declares none.
    error DataLedgerDpRequired(address holder, uint256 assetId);
    /// @notice The job's delta `delta` is above the holder's budget delta `holderDelta`.
    error DataLedgerDeltaAboveBudget(address holder, uint256 assetId, uint256 delta, uint256 holderDelta);
    /// @notice Spending `epsilon` exceeds what is left of `holder`'s budget, `remaining` (millionths of epsilon).
    error DataLedgerBudgetExceeded(address holder, uint256 assetId, uint256 remaining, uint256 epsilon);
    /// @notice `holder` already spent on job `jobId`.
    error DataLedgerAlreadySpent(uint256 jobId, address holder);

    // ---------------------------------------------------------------- events
    event HoldingDeclared(
        address indexed holder,
        uint256 indexed assetId,
        bytes32 schema,
        uint64 records,
        uint64 budget,
        uint64 delta,
        bool requiresDp
    );
    event HoldingWithdrawn(address indexed holder, uint256 indexed assetId);
    /// @param spent the holder's total spent on the asset after this spend
    event BudgetSpent(
        address indexed holder, uint256 indexed assetId, uint256 indexed jobId, uint64 epsilon, uint64 spent
    );
    /// @param spent the holder's total spent on the asset after this release
    event BudgetReleased(
        address indexed holder, uint256 indexed assetId, uint256 indexed jobId, uint64 epsilon, uint64 spent
    );

    // ---------------------------------------------------------------- holders
    /// @notice Declare (or update) that the caller holds `assetId`: records conforming to schema `schema`, its
    ///         privacy budget and whether it requires DP. What was spent stays spent.
    function declareHolding(
        uint256 assetId,
        bytes32 schema,
        uint64 records,
        uint64 budget,
        uint64 delta,
        bool requiresDp
    ) external;

    /// @notice The caller no longer holds `assetId` (its spends stay on record).
    function withdrawHolding(uint256 assetId) external;

    // ---------------------------------------------------------------- the job market
    /// @notice Record that `holder` joined `jobId`, which uses `assetId` with schema `schema` and spends
    ///         (`epsilon`, `delta`); reverts if the holding does not allow it. Only the job market.
    function spend(uint256 jobId, address holder, uint256 assetId, bytes32 schema, uint64 epsilon, uint64 delta)
        external;

    /// @notice Give back `holder`'s spend on `jobId` (its data was never trained on). Only the job market; a no-op
    ///         when nothing was spent.
    function release(uint256 jobId, address holder) external;

    // ---------------------------------------------------------------- views
    function holdingOf(address holder, uint256 assetId) external view returns (Holding memory);

    /// @notice What is left of `holder`'s budget on `assetId`, in millionths of epsilon.
    function remainingBudget(address holder, uint256 assetId) external view returns (uint256);

    function spendOf(uint256 jobId, address holder) external view returns (Spend memory);
}
