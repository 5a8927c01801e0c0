// Providers: your node (register with capabilities and stake, add stake, unbond, withdraw; earnings and what you
// can claim, job by job) and every registered node with its stake, reputation and priority.
import { type Address, type PublicClient, keccak256, toBytes } from "viem";
import { type Ctx, el, parseDpg, readerFor, rerenderKeeping, short, table, tokens, utc } from "../app";
import { contract } from "../config";
import { act, actionButton, sendTx } from "../tx";
import type { Wallet } from "../wallet";

interface Stake { staked: bigint; locked: bigint; unbonding: bigint; unbondingReadyAt: bigint }
interface Reputation { jobsCompleted: number; roundsDelivered: number; roundsMissed: number; slashes: number }

function amountForm(id: string, label: string, button: string, status: HTMLElement, onSubmit: (amount: bigint) => Promise<void>): HTMLElement {
  const form = el("form", { id }, el("label", {}, label, el("input", { name: "amount", inputmode: "decimal", required: "" })),
    el("button", { type: "submit" }, button));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act(status, () => onSubmit(parseDpg(String(new FormData(form).get("amount")), label)));
  });
  return form;
}

async function myNode(ctx: Ctx, wallet: Wallet, rerender: () => Promise<void>): Promise<HTMLElement> {
  const registry = contract(ctx.config, "NodeRegistry");
  const token = contract(ctx.config, "CommonsToken");
  const market = contract(ctx.config, "JobMarket");
  const me = wallet.account as Address;
  const status = el("p", { id: "provider-status", class: "tx" });
  const section = el("section", { id: "my-node" }, el("h2", {}, "Your node"));
  const read = (functionName: string, args: readonly unknown[] = []) =>
    wallet.public.readContract({ ...registry, functionName, args });
  const approve = async (amount: bigint) => {
    const allowance = (await wallet.public.readContract({ ...token, functionName: "allowance", args: [me, registry.address] })) as bigint;
    if (allowance < amount) {
      await sendTx(ctx.ready(), status, "Approve the stake", { ...token, functionName: "approve", args: [registry.address, amount] });
    }
  };
  if (!((await read("isRegistered", [me])) as boolean)) {
    const form = el("form", { id: "register-node" });
    const input = (name: string, label: string, value: string) => el("label", {}, label, el("input", { name, value }));
    form.append(input("gpu", "GPU model", "CPU"), input("gpuMemory", "GPU memory (MiB)", "0"),
      input("cpu", "CPU cores", "4"), input("ram", "RAM (MiB)", "8192"), input("region", "Region", "eu-west"),
      input("datasets", "Datasets held (catalog ids, comma-separated)", "sklearn/digits"),
      input("stake", "Stake (DPG)", "100"), el("button", { type: "submit" }, "Register and stake"));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const data = new FormData(form);
      act(status, async () => {
        const stake = parseDpg(String(data.get("stake")), "Stake");
        const datasets = String(data.get("datasets")).split(",").map((d) => d.trim()).filter(Boolean)
          .map((d) => keccak256(toBytes(d)));
        const capabilities = { gpuModel: String(data.get("gpu")), gpuMemoryMiB: Number(data.get("gpuMemory")),
          cpuCores: Number(data.get("cpu")), ramMiB: Number(data.get("ram")), region: String(data.get("region")),
          datasets, metadataCid: "" };
        await approve(stake);
        await sendTx(ctx.ready(), status, "Register", { ...registry, functionName: "register", args: [capabilities, stake] });
        await rerender();
      });
    });
    section.append(el("p", {}, `${short(me)} is not a registered node yet.`), form, status);
    return section;
  }
  const stake = (await read("stakeOf", [me])) as Stake;
  const rep = (await read("reputationOf", [me])) as Reputation;
  section.append(table(["Staked (DPG)", "Locked in jobs", "Unbonding", "Withdrawable from", "Jobs done", "Rounds delivered", "Missed"], [[
    tokens(stake.staked), tokens(stake.locked), tokens(stake.unbonding),
    stake.unbonding ? utc(stake.unbondingReadyAt) : "-",
    String(rep.jobsCompleted), String(rep.roundsDelivered), String(rep.roundsMissed)]], "my-stake"));
  section.append(
    amountForm("add-stake", "Add stake (DPG)", "Stake", status, async (amount) => {
      await approve(amount);
      await sendTx(ctx.ready(), status, "Add stake", { ...registry, functionName: "addStake", args: [amount] });
      await rerender();
    }),
    amountForm("unbond", "Unbond (DPG)", "Start unbonding", status, async (amount) => {
      await sendTx(ctx.ready(), status, "Unbond", { ...registry, functionName: "requestUnbonding", args: [amount] });
      await rerender();
    }),
  );
  if (stake.unbonding > 0n) {
    section.append(actionButton("Withdraw unbonded stake", { id: "withdraw" }, status, async () => {
      await sendTx(ctx.ready(), status, "Withdraw", { ...registry, functionName: "withdrawUnbonded", args: [] });
      await rerender();
    }));
  }
  // earnings, job by job: what was paid and what can be claimed now
  const joined = (await wallet.public.getContractEvents({ ...market, eventName: "ProviderJoined", args: { provider: me },
    fromBlock: ctx.config.startBlock })) as unknown as { args: { jobId: bigint } }[];
  const claimed = (await wallet.public.getContractEvents({ ...market, eventName: "RewardClaimed", args: { provider: me },
    fromBlock: ctx.config.startBlock })) as unknown as { args: { jobId: bigint; amount: bigint } }[];
  const rows = [];
  let earned = 0n;
  for (const jobId of [...new Set(joined.map((log) => log.args.jobId))]) {
    const paid = claimed.filter((log) => log.args.jobId === jobId).reduce((sum, log) => sum + log.args.amount, 0n);
    earned += paid;
    const claimable = (await wallet.public.readContract({ ...market, functionName: "claimable", args: [jobId, me] })) as bigint;
    const cell = claimable > 0n ? actionButton(`Claim ${tokens(claimable)} DPG`, { class: "claim", "data-job": String(jobId) },
      status, async () => {
        await sendTx(ctx.ready(), status, `Claim job ${jobId}`, { ...market, functionName: "claim", args: [jobId] });
        await rerender();
      }) : "-";
    rows.push([String(jobId), tokens(paid), cell]);
  }
  section.append(el("h3", {}, `Earnings: ${tokens(earned)} DPG`), rows.length
    ? table(["Job", "Paid (DPG)", "Claimable"], rows, "earnings") : el("p", {}, "No job joined yet."), status);
  return section;
}

/** Every registered node, in the registry's order. */
export async function registeredNodes(ctx: Ctx, reader: PublicClient): Promise<Address[]> {
  const registry = contract(ctx.config, "NodeRegistry");
  const count = (await reader.readContract({ ...registry, functionName: "nodeCount" })) as bigint;
  const nodes: Address[] = [];
  for (let i = 0n; i < count; i++) {
    nodes.push((await reader.readContract({ ...registry, functionName: "nodeAt", args: [i] })) as Address);
  }
  return nodes;
}

export async function renderProviders(root: HTMLElement, ctx: Ctx): Promise<void> {
  const reader = readerFor(root, ctx, "read the node registry");
  if (!reader) return;
  const registry = contract(ctx.config, "NodeRegistry");
  const market = contract(ctx.config, "JobMarket");
  const me = ctx.wallet?.account ?? null;
  const read = (functionName: string, args: readonly unknown[] = []) =>
    reader.readContract({ ...registry, functionName, args });
  const rows = [];
  for (const node of await registeredNodes(ctx, reader)) {
    const stake = (await read("stakeOf", [node])) as Stake;
    const rep = (await read("reputationOf", [node])) as Reputation;
    const priority = (await reader.readContract({ ...market, functionName: "priorityOf", args: [node] })) as bigint;
    rows.push([
      node === me ? `${short(node)} (you)` : short(node), tokens(stake.staked), tokens(stake.locked),
      String(rep.jobsCompleted), String(rep.roundsDelivered), String(rep.roundsMissed), String(rep.slashes),
      priority >= 1n << 128n ? "certified compute" : `score ${priority}`,
    ]);
  }
  const rerender = () => rerenderKeeping(root, "provider-status", () => renderProviders(root, ctx));
  const mine = ctx.wallet?.account ? [await myNode(ctx, ctx.wallet, rerender)]
    : [el("p", {}, "Connect a wallet to register a node, stake and claim rewards.")];
  root.replaceChildren(...mine, el("h2", {}, "Providers"), rows.length
    ? table(["Node", "Staked (DPG)", "Locked", "Jobs done", "Rounds delivered", "Missed", "Slashes", "Priority"], rows, "providers")
    : el("p", {}, "No provider registered yet."));
  root.dataset.ready = "true";
}
