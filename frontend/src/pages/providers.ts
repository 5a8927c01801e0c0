// Providers: every registered node with its stake, locked stake and reputation.
import type { Address } from "viem";
import { type Ctx, el, problem, short, table, tokens } from "../app";
import { contract } from "../config";

interface Stake { staked: bigint; locked: bigint; unbonding: bigint; unbondingReadyAt: bigint }
interface Reputation { jobsCompleted: number; roundsDelivered: number; roundsMissed: number; slashes: number }

export async function renderProviders(root: HTMLElement, ctx: Ctx): Promise<void> {
  const wallet = ctx.wallet;
  if (!wallet) {
    root.replaceChildren(problem("Connect a wallet to read the node registry."));
    return;
  }
  const registry = contract(ctx.config, "NodeRegistry");
  const market = contract(ctx.config, "JobMarket");
  const read = (functionName: string, args: readonly unknown[] = []) =>
    wallet.public.readContract({ ...registry, functionName, args });
  const count = (await read("nodeCount")) as bigint;
  const rows = [];
  for (let i = 0n; i < count; i++) {
    const node = (await read("nodeAt", [i])) as Address;
    const stake = (await read("stakeOf", [node])) as Stake;
    const rep = (await read("reputationOf", [node])) as Reputation;
    const priority = (await wallet.public.readContract({ ...market, functionName: "priorityOf", args: [node] })) as bigint;
    rows.push([
      node === wallet.account ? `${short(node)} (you)` : short(node), tokens(stake.staked), tokens(stake.locked),
      String(rep.jobsCompleted), String(rep.roundsDelivered), String(rep.roundsMissed), String(rep.slashes),
      priority >= 1n << 128n ? "certified compute" : `score ${priority}`,
    ]);
  }
  root.replaceChildren(el("h2", {}, "Providers"), rows.length
    ? table(["Node", "Staked (DPG)", "Locked", "Jobs done", "Rounds delivered", "Missed", "Slashes", "Priority"], rows, "providers")
    : el("p", {}, "No provider registered yet."));
}
