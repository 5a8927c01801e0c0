// Governance: the DPG Standard in force and the DAO's proposals with their state.
import { type Ctx, el, problem, table } from "../app";
import { contract } from "../config";

const PROPOSAL_STATES = ["pending", "active", "canceled", "defeated", "succeeded", "queued", "expired", "executed"];

export async function renderGovernance(root: HTMLElement, ctx: Ctx): Promise<void> {
  const wallet = ctx.wallet;
  if (!wallet) {
    root.replaceChildren(problem("Connect a wallet to read the DAO."));
    return;
  }
  const dpg = contract(ctx.config, "DPGRegistry");
  const governor = contract(ctx.config, "OpenDPGGovernor");
  const [version, cid] = (await wallet.public.readContract({ ...dpg, functionName: "standard" })) as [number, string];
  const logs = (await wallet.public.getContractEvents({
    ...governor, eventName: "ProposalCreated", fromBlock: ctx.config.startBlock,
  })) as unknown as { args: { proposalId: bigint; description: string } }[];
  const rows = [];
  for (const log of logs.reverse()) {
    const state = (await wallet.public.readContract({ ...governor, functionName: "state", args: [log.args.proposalId] })) as number;
    rows.push([`${log.args.proposalId.toString().slice(0, 12)}…`, PROPOSAL_STATES[state] ?? String(state),
      log.args.description.split("\n")[0].slice(0, 120)]);
  }
  root.replaceChildren(
    el("h2", {}, "DPG Standard"),
    el("p", { id: "standard" }, `Version ${version} is in force (`, el("code", {}, cid), ")."),
    el("h2", {}, "Proposals"),
    rows.length ? table(["Proposal", "State", "Description"], rows, "proposals") : el("p", {}, "No proposal yet."),
  );
}
