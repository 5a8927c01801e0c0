// Governance: your votes (delegate them), the DPG Standard in force and proposals to change it (propose, vote,
// queue, execute through the Governor and the Timelock), and the certification queue (automated report, community
// vote, closing it, the expert committee's decisions).
import { type Abi, type Address, type Hex, type PublicClient, encodeFunctionData, keccak256, toBytes } from "viem";
import { type Ctx, el, postToGateway, readerFor, rerenderKeeping, short, table, tokens, utc } from "../app";
import { contract } from "../config";
import { act, actionButton, sendTx } from "../tx";
import type { Wallet } from "../wallet";
import { STAGES } from "./catalog";

const PROPOSAL_STATES = ["pending", "active", "canceled", "defeated", "succeeded", "queued", "expired", "executed"];
const VOTING = 4;
const COMMITTEE_REVIEW = 6;

interface ProposalCreated {
  proposalId: bigint;
  targets: Address[];
  values: bigint[];
  calldatas: Hex[];
  description: string;
}

interface Review { snapshot: number; voteEnd: bigint; approvals: number; rejections: number; forVotes: bigint; againstVotes: bigint; reportCid: string }
interface Asset { owner: Address; kind: number; stage: number; review: number; licence: string }

async function votesSection(ctx: Ctx, wallet: Wallet, status: HTMLElement, rerender: () => Promise<void>): Promise<HTMLElement> {
  const token = contract(ctx.config, "CommonsToken");
  const me = wallet.account as Address;
  const votes = (await wallet.public.readContract({ ...token, functionName: "getVotes", args: [me] })) as bigint;
  const balance = (await wallet.public.readContract({ ...token, functionName: "balanceOf", args: [me] })) as bigint;
  const delegate = actionButton("Delegate my votes to myself", { id: "delegate" }, status, async () => {
    await sendTx(ctx.ready(), status, "Delegate", { ...token, functionName: "delegate", args: [me] });
    await rerender();
  });
  return el("section", {}, el("h2", {}, "Your votes"),
    el("p", { id: "my-votes" }, `${tokens(balance)} DPG held, ${tokens(votes)} votes delegated to you. Votes count in reviews and proposals opened after they are delegated. `),
    delegate);
}

/** Every version of the standard the registry has had (its StandardSet events), who set it and when, and a link
 * to each document as published (the gateway fetches it by its on-chain CID). */
async function standardVersions(ctx: Ctx, reader: PublicClient, inForce: number): Promise<HTMLElement> {
  const dpg = contract(ctx.config, "DPGRegistry");
  const governor = contract(ctx.config, "OpenDPGGovernor");
  const set = (await reader.getContractEvents({ ...dpg, eventName: "StandardSet", fromBlock: ctx.config.startBlock })) as unknown as {
    args: { newVersion: number; cid: string }; blockNumber: bigint; transactionHash: Hex;
  }[];
  const executed = (await reader.getContractEvents({ ...governor, eventName: "ProposalExecuted", fromBlock: ctx.config.startBlock })) as unknown as {
    args: { proposalId: bigint }; transactionHash: Hex;
  }[];
  const byTx = new Map(executed.map((log) => [log.transactionHash, log.args.proposalId]));
  const rows = [];
  for (const log of [...set].reverse()) {
    const block = await reader.getBlock({ blockNumber: log.blockNumber });
    const proposal = byTx.get(log.transactionHash);
    rows.push([
      el("a", { href: `${ctx.config.gateway}/standards/${log.args.newVersion}`, class: "standard-document" }, `Version ${log.args.newVersion}`),
      log.args.newVersion === inForce ? "in force" : "replaced",
      el("code", {}, log.args.cid),
      proposal === undefined ? "at deployment" : `DAO proposal ${proposal.toString().slice(0, 10)}…`,
      `${utc(block.timestamp)} (block ${log.blockNumber})`,
    ]);
  }
  return table(["Version", "Status", "Document (CID)", "Set by", "Since"], rows, "standard-versions");
}

async function proposalsSection(ctx: Ctx, reader: PublicClient, wallet: Wallet | null, status: HTMLElement, rerender: () => Promise<void>): Promise<HTMLElement> {
  const dpg = contract(ctx.config, "DPGRegistry");
  const governor = contract(ctx.config, "OpenDPGGovernor");
  const [version, cid] = (await reader.readContract({ ...dpg, functionName: "standard" })) as [number, string];
  const now = (await reader.getBlock()).timestamp;
  const logs = (await reader.getContractEvents({ ...governor, eventName: "ProposalCreated", fromBlock: ctx.config.startBlock })) as unknown as { args: ProposalCreated }[];
  const rows = [];
  for (const { args: p } of logs.reverse()) {
    const read = (functionName: string) => reader.readContract({ ...governor, functionName, args: [p.proposalId] });
    const state = Number(await read("state"));
    const [against, forVotes, abstain] = (await read("proposalVotes")) as [bigint, bigint, bigint];
    const call = [p.targets, p.values, p.calldatas, keccak256(toBytes(p.description))] as const;
    const actions: HTMLElement[] = [];
    const id = p.proposalId.toString();
    if (!wallet?.account) {
      // read-only: no actions without a wallet
    } else if (state === 1) {
      const voted = (await reader.readContract({ ...governor, functionName: "hasVoted", args: [p.proposalId, wallet.account] })) as boolean;
      if (!voted) {
        for (const [label, support] of [["for", 1], ["against", 0], ["abstain", 2]] as const) {
          actions.push(actionButton(`Vote ${label}`, { class: `vote-${label}`, "data-proposal": id }, status, async () => {
            await sendTx(ctx.ready(), status, `Vote ${label}`, { ...governor, functionName: "castVote", args: [p.proposalId, support] });
            await rerender();
          }));
        }
      }
    } else if (state === 4) {
      actions.push(actionButton("Queue in the timelock", { class: "queue", "data-proposal": id }, status, async () => {
        await sendTx(ctx.ready(), status, "Queue", { ...governor, functionName: "queue", args: call });
        await rerender();
      }));
    } else if (state === 5) {
      const eta = (await read("proposalEta")) as bigint;
      actions.push(eta <= now ? actionButton("Execute", { class: "execute", "data-proposal": id }, status, async () => {
        await sendTx(ctx.ready(), status, "Execute", { ...governor, functionName: "execute", args: call });
        await rerender();
      }) : el("span", {}, `executable from ${utc(eta)}`));
    }
    rows.push([`${id.slice(0, 10)}…`, el("span", { class: "state", "data-proposal": id }, PROPOSAL_STATES[state] ?? String(state)),
      p.description.split("\n")[0].slice(0, 100), `${tokens(forVotes, 0)} / ${tokens(against, 0)} / ${tokens(abstain, 0)}`,
      el("span", {}, ...actions)]);
  }
  const form = el("form", { id: "propose-standard" },
    el("label", {}, "New DPG Standard document (JSON)", el("textarea", { name: "document", rows: "6", required: "" })),
    el("label", {}, "Description for the voters", el("input", { name: "description", required: "" })),
    el("button", { type: "submit" }, "Pin the document and propose it"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    act(status, async () => {
      const w = ctx.ready();
      let document: { version: number };
      try {
        document = JSON.parse(String(data.get("document")));
      } catch {
        throw new Error("the document is not JSON");
      }
      status.dataset.state = "pinning";
      status.textContent = "Pinning the document through the gateway…";
      const pinned = (await postToGateway<{ cid: string }>(ctx, "/standards", document)).cid;
      const calldata = encodeFunctionData({ abi: dpg.abi as Abi, functionName: "setStandard", args: [document.version, pinned] });
      await sendTx(w, status, "Propose", { ...governor, functionName: "propose",
        args: [[dpg.address], [0n], [calldata], String(data.get("description"))] });
      await rerender();
    });
  });
  return el("section", {}, el("h2", {}, "DPG Standard"),
    el("p", { id: "standard" }, `Version ${version} is in force (`, el("code", {}, cid), ")."),
    await standardVersions(ctx, reader, version),
    el("h2", {}, "Proposals"),
    rows.length ? table(["Proposal", "State", "Description", "For / against / abstain", ""], rows, "proposals") : el("p", {}, "No proposal yet."),
    ...(wallet?.account ? [el("h3", {}, "Propose a new version of the standard"), form] : []));
}

async function certificationSection(ctx: Ctx, reader: PublicClient, wallet: Wallet | null, status: HTMLElement, rerender: () => Promise<void>): Promise<HTMLElement> {
  const dpg = contract(ctx.config, "DPGRegistry");
  const me = wallet?.account ?? null;
  const member = me ? (await reader.readContract({ ...dpg, functionName: "isCommitteeMember", args: [me] })) as boolean : false;
  const count = (await reader.readContract({ ...dpg, functionName: "assetCount" })) as bigint;
  const now = (await reader.getBlock()).timestamp;
  const rows = [];
  for (let id = 1n; id <= count; id++) {
    const asset = (await reader.readContract({ ...dpg, functionName: "getAsset", args: [id] })) as Asset;
    if (asset.stage !== VOTING && asset.stage !== COMMITTEE_REVIEW) continue;
    const review = (await reader.readContract({ ...dpg, functionName: "getReview", args: [id, asset.review] })) as Review;
    let summary = "-";
    const report = await fetch(`${ctx.config.gateway}/reports/${id}`);
    if (report.ok) {
      const body = (await report.json()) as { passed: boolean; summary: Record<string, number> };
      summary = `${body.passed ? "passed" : "failed"}: ${body.summary.pass} pass, ${body.summary.review} for review, ${body.summary.fail} fail`;
    }
    const actions: HTMLElement[] = [];
    const act = (label: string, cls: string, functionName: string, args: readonly unknown[]) =>
      actionButton(label, { class: cls, "data-asset": String(id) }, status, async () => {
        await sendTx(ctx.ready(), status, `${label} (asset ${id})`, { ...dpg, functionName, args });
        await rerender();
      });
    if (!me) {
      // read-only: no actions without a wallet
    } else if (asset.stage === VOTING) {
      const voted = (await reader.readContract({ ...dpg, functionName: "hasVoted", args: [id, asset.review, me] })) as boolean;
      if (now > review.voteEnd) actions.push(act("Close the vote", "close-vote", "closeVote", [id]));
      else if (!voted) actions.push(act("Vote to certify", "vote-certify", "castVote", [id, true]), act("Vote against", "vote-reject", "castVote", [id, false]));
    } else if (member) {
      const reason = el("input", { class: "reason", "data-asset": String(id), placeholder: "reason (required to reject)" });
      actions.push(act("Approve", "approve", "committeeDecide", [id, true, ""]), reason,
        actionButton("Reject", { class: "reject", "data-asset": String(id) }, status, async () => {
          if (!reason.value.trim()) throw new Error("a rejection needs a reason");
          const cid = (await postToGateway<{ cid: string }>(ctx, "/reasons", { text: reason.value })).cid;
          await sendTx(ctx.ready(), status, `Reject (asset ${id})`, { ...dpg, functionName: "committeeDecide", args: [id, false, cid] });
          await rerender();
        }));
    }
    rows.push([String(id), asset.licence, short(asset.owner), el("span", { class: "stage", "data-asset": String(id) }, STAGES[asset.stage]),
      summary, `${tokens(review.forVotes, 0)} / ${tokens(review.againstVotes, 0)}`, `${review.approvals} / ${review.rejections}`,
      el("span", {}, ...actions)]);
  }
  return el("section", {}, el("h2", {}, "Certification queue"),
    rows.length ? table(["Asset", "Licence", "Owner", "Stage", "Automated check", "Votes for / against", "Committee yes / no", ""], rows, "certification-queue")
      : el("p", {}, "No asset is under review."));
}

export async function renderGovernance(root: HTMLElement, ctx: Ctx): Promise<void> {
  const reader = readerFor(root, ctx, "read the DAO and vote");
  if (!reader) return;
  const wallet = ctx.wallet?.account ? ctx.wallet : null;
  const status = el("p", { id: "governance-status", class: "tx" });
  const rerender = () => rerenderKeeping(root, "governance-status", () => renderGovernance(root, ctx));
  root.replaceChildren(status, wallet ? await votesSection(ctx, wallet, status, rerender)
    : el("p", {}, "Connect a wallet to delegate your votes, vote and propose."),
    await certificationSection(ctx, reader, wallet, status, rerender), await proposalsSection(ctx, reader, wallet, status, rerender));
  root.dataset.ready = "true";
}
