// One job, live: state, every round with its global model hash and CID, every provider's update hash, the
// gateway's own evaluation of each committed model as a loss/accuracy chart, and the payments. All of it from the
// gateway's index of the chain (one request; no wallet or RPC needed); while the job is open or running, or owes
// payments, the page refreshes itself every few seconds.
import { type Ctx, el, getFromGateway, problem, short, table } from "../app";
import type { IndexedJob } from "../market";

const REFRESH_MS = 3000;

interface Evaluation { round: number; loss: number | null; accuracy: number | null }

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

interface JobDetail extends IndexedJob {
  providers: { address: string; dropped: boolean; missed_rounds: number }[];
  history: {
    round: number; global_hash: string; global_cid: string; used: string[];
    updates: { provider: string; hash: string; cid: string; rejected: boolean }[];
    loss: number | null; accuracy: number | null; metrics_error: string | null;
  }[];
  payments: { kind: string; account: string; amount: string }[];
}

export async function renderJob(root: HTMLElement, ctx: Ctx, jobId: bigint): Promise<void> {
  const job = await getFromGateway<JobDetail>(ctx, `/chain/jobs/${jobId}`);
  if (job === null) {
    root.replaceChildren(problem(`There is no job ${jobId}.`));
    return;
  }
  const state = job.state.toLowerCase();
  const active = job.providers.filter((p) => !p.dropped);
  const roundRows = job.history.map((r) => [String(r.round), `0x${r.global_hash.slice(0, 12)}…`, r.global_cid, String(r.used.length),
    r.accuracy != null ? r.accuracy.toFixed(3) : r.metrics_error ?? "evaluating…", r.loss != null ? r.loss.toFixed(3) : "-"]);
  const updateRows = job.history.flatMap((r) => r.updates.map((u) => [String(r.round), short(u.provider),
    `0x${u.hash.slice(0, 12)}…${u.rejected ? " (not used)" : ""}`, u.cid]));
  const paymentRows = job.payments.map((p) => [p.kind, short(p.account), p.amount]);
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
  const tools = job.history.length ? [el("p", {},
    el("a", { href: `${ctx.config.gateway}/models/${jobId}`, id: "download-model", download: `job-${jobId}.odpgupd` },
      "Download the latest global model"), " (checked against its on-chain hash) ", verify), audit] : [];
  root.replaceChildren(
    el("h2", {}, `Job ${jobId}`),
    el("p", { id: "job-summary", "data-state": state }, `${state}: ${job.committed_rounds} of ${job.rounds} rounds committed, `
      + `${active.length} of ${job.max_providers} providers, ${job.budget} DPG escrowed, ${job.credited} credited; posted by ${short(job.poster)}.`),
    curve(job.history),
    ...tools,
    el("h3", {}, "Rounds"),
    roundRows.length ? table(["Round", "Global model hash", "CID", "Updates used", "Accuracy", "Loss"], roundRows, "rounds") : el("p", {}, "No round committed yet."),
    el("h3", {}, "Model updates (hash on-chain, content on IPFS)"),
    updateRows.length ? table(["Round", "Provider", "Update hash", "CID"], updateRows, "updates") : el("p", {}, "No update yet."),
    el("h3", {}, "Payments"),
    paymentRows.length ? table(["Kind", "To", "DPG"], paymentRows, "payments") : el("p", {}, "Nothing paid yet."),
  );
  root.dataset.ready = "true";
  const paidRewards = job.payments.filter((p) => p.kind === "reward").length;
  const unevaluated = job.history.some((r) => r.loss == null && !r.metrics_error);
  if (state === "open" || state === "running" || (state === "finished" && paidRewards < active.length) || unevaluated) {
    setTimeout(() => {
      if (root.dataset.page === "job" && window.location.hash === `#job/${jobId}`) {
        void renderJob(root, ctx, jobId).catch(() => undefined);
      }
    }, REFRESH_MS);
  }
}
