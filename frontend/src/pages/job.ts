// One job, live: state, every round with its global model hash and CID, every provider's update hash, the
// gateway's own evaluation of each committed model as a loss/accuracy chart, and the payments. While the job is
// open or running the page refreshes itself from the chain every few seconds.
import type { Address, Hex } from "viem";
import { type Ctx, el, problem, readerFor, short, table, tokens } from "../app";
import { contract } from "../config";
import { JOB_STATES, type JobView } from "../market";

const REFRESH_MS = 3000;

interface Evaluation { round: number; loss: number | null; accuracy: number | null; error: string | null }

const SVG = "http://www.w3.org/2000/svg";

function svg(tag: string, attrs: Record<string, string | number>): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

/** Loss (left axis) and accuracy (0-1, right axis) per round, as an inline SVG line chart. */
export function curve(points: Evaluation[]): SVGElement {
  const width = 560, height = 220, pad = 36;
  const chart = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, id: "curve", role: "img" });
  const done = points.filter((p) => p.loss !== null && p.accuracy !== null);
  chart.append(svg("rect", { x: 0, y: 0, width, height, fill: "white", stroke: "#d0d7de" }));
  if (!done.length) {
    const text = svg("text", { x: pad, y: height / 2, fill: "#57606a" });
    text.textContent = "no committed round evaluated yet";
    chart.append(text);
    return chart;
  }
  const last = Math.max(...done.map((p) => p.round), 1);
  const maxLoss = Math.max(...done.map((p) => p.loss as number), 1e-9);
  const x = (round: number) => pad + ((width - 2 * pad) * (round - 1)) / Math.max(last - 1, 1);
  const y = (value: number, top: number) => height - pad - ((height - 2 * pad) * value) / top;
  for (const [key, top, color] of [["loss", maxLoss, "#cf222e"], ["accuracy", 1, "#1a7f37"]] as const) {
    const path = done.map((p, i) => `${i ? "L" : "M"}${x(p.round)},${y(p[key] as number, top)}`).join(" ");
    chart.append(svg("path", { d: path, fill: "none", stroke: color, "stroke-width": 2, class: key }));
    for (const p of done) chart.append(svg("circle", { cx: x(p.round), cy: y(p[key] as number, top), r: 3, fill: color }));
  }
  const legend = svg("text", { x: pad, y: 18, fill: "#1b2430", "font-size": 12 });
  legend.textContent = `loss (red, max ${maxLoss.toFixed(3)}) and accuracy (green, 0-1) over ${last} round(s)`;
  chart.append(legend);
  return chart;
}

export async function renderJob(root: HTMLElement, ctx: Ctx, jobId: bigint): Promise<void> {
  const reader = readerFor(root, ctx, "follow a job from the chain");
  if (!reader) return;
  const market = contract(ctx.config, "JobMarket");
  const job = (await reader.readContract({ ...market, functionName: "getJob", args: [jobId] })) as JobView;
  if (job.state === 0) {
    root.replaceChildren(problem(`There is no job ${jobId}.`));
    return;
  }
  const events = async (eventName: string) => (await reader.getContractEvents({
    ...market, eventName, args: { jobId }, fromBlock: ctx.config.startBlock,
  })) as unknown as { args: Record<string, unknown> }[];
  const [updates, rounds, rewards, refunds, shares] = await Promise.all(
    ["UpdateSubmitted", "RoundCommitted", "RewardClaimed", "RefundClaimed", "DataShareClaimed"].map(events));
  const evaluations: Evaluation[] = await fetch(`${ctx.config.gateway}/evaluations/${jobId}`)
    .then((r) => (r.ok ? r.json() : []))
    .catch(() => []);
  const metric = (round: number) => evaluations.find((e) => e.round === round);
  const roundRows = rounds.map(({ args }) => {
    const round = Number(args.round);
    const m = metric(round);
    return [String(round), `${(args.globalHash as Hex).slice(0, 14)}…`, String(args.globalCid), String(args.usedCount),
      m?.accuracy != null ? m.accuracy.toFixed(3) : m?.error ?? "evaluating…", m?.loss != null ? m.loss.toFixed(3) : "-"];
  });
  const updateRows = updates.map(({ args }) => [String(args.round), short(args.provider as Address),
    `${(args.updateHash as Hex).slice(0, 14)}…`, String(args.updateCid)]);
  const paymentRows = [
    ...rewards.map(({ args }) => ["reward", short(args.provider as Address), tokens(args.amount as bigint)]),
    ...refunds.map(({ args }) => ["refund", short(args.poster as Address), tokens(args.amount as bigint)]),
    ...shares.map(({ args }) => ["data share", short(args.holder as Address), tokens(args.amount as bigint)]),
  ];
  const audit = el("p", { id: "audit" });
  const verify = el("button", { type: "button", id: "verify" }, "Verify the training");
  verify.addEventListener("click", () => void (async () => {
    audit.textContent = "Verifying: every update and global model fetched from IPFS and checked against the chain, every aggregate recomputed…";
    const response = await fetch(`${ctx.config.gateway}/audits/${jobId}`, { method: "POST" });
    const result = (await response.json()) as { ok: boolean; rounds: { round: number; ok: boolean; problems: string[] }[] };
    if (!response.ok) throw new Error(JSON.stringify(result));
    audit.dataset.ok = String(result.ok);
    audit.textContent = result.ok ? `All ${result.rounds.length} round(s) verified.`
      : `Mismatch: ${result.rounds.filter((r) => !r.ok).map((r) => `round ${r.round}: ${r.problems.join("; ")}`).join(" | ")}`;
  })().catch((error) => {
    audit.dataset.ok = "false";
    audit.textContent = `Verification failed: ${error instanceof Error ? error.message : String(error)}`;
  }));
  const tools = rounds.length ? [el("p", {},
    el("a", { href: `${ctx.config.gateway}/models/${jobId}`, id: "download-model", download: `job-${jobId}.odpgupd` },
      "Download the latest global model"), " (checked against its on-chain hash) ", verify), audit] : [];
  root.replaceChildren(
    el("h2", {}, `Job ${jobId}`),
    el("p", { id: "job-summary", "data-state": JOB_STATES[job.state] }, `${JOB_STATES[job.state]}: ${job.committedRounds} of ${job.rounds} rounds committed, `
      + `${job.providerCount} of ${job.maxProviders} providers, ${tokens(job.budget)} DPG escrowed, ${tokens(job.credited)} credited; posted by ${short(job.poster)}.`),
    curve(evaluations),
    ...tools,
    el("h3", {}, "Rounds"),
    roundRows.length ? table(["Round", "Global model hash", "CID", "Updates used", "Accuracy", "Loss"], roundRows, "rounds") : el("p", {}, "No round committed yet."),
    el("h3", {}, "Model updates (hash on-chain, content on IPFS)"),
    updateRows.length ? table(["Round", "Provider", "Update hash", "CID"], updateRows, "updates") : el("p", {}, "No update yet."),
    el("h3", {}, "Payments"),
    paymentRows.length ? table(["Kind", "To", "DPG"], paymentRows, "payments") : el("p", {}, "Nothing paid yet."),
  );
  root.dataset.ready = "true";
  if (job.state === 1 || job.state === 2 || rewards.length < job.providerCount) {
    setTimeout(() => {
      if (root.dataset.page === "job" && window.location.hash === `#job/${jobId}`) {
        void renderJob(root, ctx, jobId).catch(() => undefined);
      }
    }, REFRESH_MS);
  }
}
