// Jobs: post a job from a form (the spec is built here, validated and pinned by the gateway, the escrow approved
// and posted from the wallet), and the jobs this wallet posted with their state. A job trains on a dataset asset
// its providers hold in their own files (the gateway fills in the asset's schema; DP-SGD optional, its epsilon
// spent from each provider's on-chain budget) or, for demos, on a bundled dataset sliced among them.
import { type Address, type Hex, keccak256, parseEventLogs, parseSignature, toBytes } from "viem";
import { type Ctx, el, getFromGateway, parseDpg, postToGateway, problem, short, table, tokens } from "../app";
import { type ContractInfo, contract } from "../config";
import type { IndexedJob } from "../market";
import { act, describeError, sendTx } from "../tx";
import type { Wallet } from "../wallet";
import { KINDS, readAssets } from "./catalog";
import { registeredNodes } from "./providers";


function field(label: string, input: HTMLInputElement | HTMLSelectElement): HTMLElement {
  return el("label", {}, label, input);
}

function input(name: string, value: string, type = "text", extra: Record<string, string> = {}): HTMLInputElement {
  return el("input", { name, value, type, ...extra });
}

async function postForm(ctx: Ctx): Promise<HTMLElement> {
  const form = el("form", { id: "post-job" });
  const coordinator = el("select", { name: "coordinator" });
  const certified = el("select", { name: "datasetAsset" }, el("option", { value: "" }, "none required"));
  const data = el("select", { name: "dataset" },
    el("option", { value: "simulate:sklearn/digits" }, "simulation: scikit-learn digits, sliced among the providers"));
  const reader = ctx.wallet?.public;
  if (reader) {
    for (const node of await registeredNodes(ctx, reader)) coordinator.append(el("option", { value: node }, node));
    const datasets = await readAssets(ctx, reader, (a) => KINDS[a.kind] === "dataset");
    // the datasets certified now (a job can require one: its holder then earns the data share)
    for (const { id, asset } of datasets.filter((a) => a.certified)) {
      certified.append(el("option", { value: String(id) }, `asset ${id} (${asset.licence}, ${short(asset.owner)})`));
    }
    // any dataset asset: its providers hold it in their own files (an asset without a schema is refused, with why)
    for (const { id, asset } of datasets) {
      data.append(el("option", { value: `asset:${id}` }, `asset ${id}, held by providers in their own files (${asset.licence})`));
    }
  }
  const model = el("select", { name: "model" }, el("option", { value: "mlp" }, "MLP"), el("option", { value: "cnn" }, "small CNN"),
    el("option", { value: "library" }, "a library architecture (below)"));
  // an open base model from the DPG registry: the job starts from its weights (the gateway fills in its files and,
  // unless an architecture is named, its architecture from the model's card)
  const base = el("select", { name: "baseAsset" }, el("option", { value: "" }, "none: seeded random weights"));
  if (reader) {
    for (const { id, asset, certified } of await readAssets(ctx, reader, (a) => KINDS[a.kind] === "model")) {
      base.append(el("option", { value: String(id), "data-certified": String(certified) },
        `asset ${id} (${asset.licence}, ${short(asset.owner)}${certified ? ", certified" : ""})`));
    }
  }
  form.append(
    field("Name", input("name", "Handwritten digits", "text", { required: "", maxlength: "120" })),
    field("Training data", data),
    field("DP-SGD epsilon per provider (empty: no DP)", input("epsilon", "", "text", { inputmode: "decimal" })),
    field("DP-SGD noise multiplier", input("noise", "1.1", "text", { inputmode: "decimal" })),
    field("Held-out set CID (optional)", input("heldOut", "", "text")),
    field("Model", model),
    field("Library architecture (e.g. transformers/vit, timm/resnet10t)", input("architecture", "", "text", { maxlength: "160" })),
    field("Architecture config (JSON, e.g. {\"hidden_size\": 64})", input("config", "", "text")),
    field("Base model (DPG model asset)", base),
    field("Require the base model certified (DPG)", input("baseCertified", "yes", "checkbox")),
    field("LoRA rank (empty: train every weight)", input("loraRank", "", "number", { min: "1", max: "1024" })),
    field("LoRA alpha", input("loraAlpha", "16", "number", { min: "1", max: "4096" })),
    field("LoRA target modules (comma-separated)", input("loraTargets", "q_proj, v_proj", "text")),
    field("Modules trained in full with LoRA (comma-separated, e.g. the new head)", input("loraSave", "classifier", "text")),
    field("Rounds", input("rounds", "2", "number", { min: "1", max: "1000" })),
    field("Providers at least", input("min", "1", "number", { min: "1", max: "254" })),
    field("Providers at most", input("max", "2", "number", { min: "1", max: "254" })),
    field("Reward per provider and round (DPG)", input("reward", "1", "text", { inputmode: "decimal" })),
    field("Stake each provider locks (DPG)", input("stake", "10", "text", { inputmode: "decimal" })),
    field("Coordinator", coordinator),
    field("Join window (s)", input("join", "3600", "number", { min: "60" })),
    field("Round timeout (s)", input("timeout", "900", "number", { min: "60" })),
    field("Certified dataset (DPG)", certified),
    field("Only providers with certified compute", input("certifiedCompute", "yes", "checkbox")),
    field("Escrow the budget by", el("select", { name: "escrow" },
      el("option", { value: "permit", title: "EIP-2612: one signature, one transaction" }, "a signed permit (1 tx)"),
      el("option", { value: "approve", title: "approve the market, then post" }, "approving first (2 txs)"))),
    el("button", { type: "submit" }, "Pin the spec and post with escrow"),
  );
  const status = el("p", { id: "post-status", class: "tx" });
  const result = el("p", { id: "post-result" });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    result.replaceChildren();
    act(status, () => post(ctx, new FormData(form), status, result));
  });
  return el("section", {}, el("h2", {}, "Post a job"), form, status, result);
}

/** What the form fills in of a job spec (the gateway fills in every default and validates it). */
interface ModelDraft {
  name?: string;
  config?: Record<string, unknown>;
  base?: { asset: number };
  lora?: { rank: number; alpha: number; target_modules: string[]; modules_to_save: string[] };
}

interface SpecDraft {
  name: string;
  model: ModelDraft;
  dataset: { mode: "simulate"; catalog_id: string } | { asset: number };
  training: { rounds: number };
  providers: { min: number; max: number };
  certification?: { dataset_asset?: number; certified_compute_only: boolean; model_asset?: number };
  privacy?: { dp_sgd: { epsilon: number; noise_multiplier: number; max_grad_norm: number } };
  held_out_cid?: string;
}

/** What the gateway answers for a pinned spec: the terms to post a job on providers' own data with. */
interface Pinned {
  cid: string;
  data_terms: { asset: number; schema: Hex; epsilon: string; delta: string } | null;
}

/** The spec's dataset from the form's choice ("asset:7" or "simulate:CATALOG_ID") and its DP and held-out fields. */
function dataChoice(spec: SpecDraft, data: FormData): void {
  const [kind, value] = String(data.get("dataset")).split(":", 2);
  if (kind !== "asset") {
    spec.dataset = { mode: "simulate", catalog_id: value };
    return;
  }
  spec.dataset = { asset: Number(value) };
  const epsilon = String(data.get("epsilon") ?? "").trim();
  if (epsilon) {
    spec.privacy = { dp_sgd: { epsilon: Number(epsilon), noise_multiplier: Number(data.get("noise")), max_grad_norm: 1.0 } };
  }
  const heldOut = String(data.get("heldOut") ?? "").trim();
  if (heldOut) spec.held_out_cid = heldOut;
}

/** The model from the form: a built-in or a library architecture (with its config), an optional base model asset
 * (without an architecture named, the gateway takes the base's) and optional LoRA adapters. */
function modelChoice(data: FormData): ModelDraft {
  const text = (name: string) => String(data.get(name) ?? "").trim();
  const list = (name: string) => text(name).split(",").map((m) => m.trim()).filter(Boolean);
  const model: ModelDraft = {};
  const baseAsset = text("baseAsset");
  if (text("model") !== "library") {
    model.name = text("model");
  } else if (text("architecture")) {
    model.name = text("architecture");
  } else if (!baseAsset) {
    throw new Error("Library architecture: name one (library/architecture), or pick a base model to take its architecture from");
  }
  if (model.name !== "mlp" && model.name !== "cnn" && text("config")) {
    try {
      model.config = JSON.parse(text("config")) as Record<string, unknown>;
    } catch {
      throw new Error("Architecture config: not JSON; write it as {\"name\": value, ...}");
    }
  }
  if (baseAsset) model.base = { asset: Number(baseAsset) };
  if (text("loraRank")) {
    model.lora = { rank: Number(text("loraRank")), alpha: Number(text("loraAlpha") || "16"), target_modules: list("loraTargets"),
                   modules_to_save: list("loraSave") };
  }
  return model;
}

const ZERO: Hex = `0x${"00".repeat(32)}`;

/** Before asking for a permit signature: simulate the post with an empty permit, so a job the market would refuse
 * shows its decoded reason first. The only failure expected is the missing allowance the permit will give. */
async function checkBeforeSigning(wallet: Wallet, status: HTMLElement, market: ContractInfo, token: ContractInfo,
                                  args: readonly unknown[]): Promise<void> {
  const abi = [...market.abi, ...token.abi.filter((item) => item.type === "error")];
  try {
    await wallet.public.simulateContract({ address: market.address, abi, functionName: "postJobWithPermit", args,
                                           account: wallet.account as Address });
  } catch (error) {
    if (describeError(error).startsWith("reverted: ERC20InsufficientAllowance")) return;
    status.dataset.state = "refused";
    status.textContent = `Post the job: ${describeError(error)}`;
    throw error;
  }
}

/** An EIP-2612 permit for `spender` to take `value` of the token from the wallet, signed in the wallet. */
async function signPermit(wallet: Wallet, status: HTMLElement, token: ContractInfo, spender: Address, value: bigint,
                          deadline: bigint): Promise<{ v: number; r: Hex; s: Hex }> {
  const owner = wallet.account as Address;
  const read = (functionName: string, args: readonly unknown[] = []) => wallet.public.readContract({ ...token, functionName, args });
  const [, name, version, chainId, verifyingContract] = (await read("eip712Domain")) as [Hex, string, string, bigint, Address];
  const nonce = (await read("nonces", [owner])) as bigint;
  status.dataset.state = "wallet";
  status.textContent = "Sign the permit: waiting for the wallet…";
  const signature = await wallet.client.signTypedData({
    account: owner,
    domain: { name, version, chainId, verifyingContract },
    types: { Permit: [{ name: "owner", type: "address" }, { name: "spender", type: "address" }, { name: "value", type: "uint256" },
                      { name: "nonce", type: "uint256" }, { name: "deadline", type: "uint256" }] },
    primaryType: "Permit",
    message: { owner, spender, value, nonce, deadline },
  });
  const { r, s, v, yParity } = parseSignature(signature);
  return { r, s, v: Number(v ?? BigInt(27 + yParity)) };
}

async function post(ctx: Ctx, data: FormData, status: HTMLElement, result: HTMLElement): Promise<void> {
  const wallet = ctx.ready();
  const number = (name: string) => Number(data.get(name));
  const reward = parseDpg(String(data.get("reward")), "Reward per provider and round");
  const stake = parseDpg(String(data.get("stake")), "Stake each provider locks");
  const spec: SpecDraft = {
    name: String(data.get("name")),
    model: modelChoice(data),
    dataset: { mode: "simulate", catalog_id: "sklearn/digits" },
    training: { rounds: number("rounds") },
    providers: { min: number("min"), max: number("max") },
  };
  dataChoice(spec, data);
  const datasetAsset = data.get("datasetAsset") ? BigInt(String(data.get("datasetAsset"))) : 0n;
  const certifiedComputeOnly = data.get("certifiedCompute") === "yes";
  const baseRequired = spec.model.base !== undefined && data.get("baseCertified") === "yes";
  const required = datasetAsset > 0n || certifiedComputeOnly || baseRequired;
  if (required) {  // the spec says what the chain enforces (and the agents check before joining)
    spec.certification = { ...(datasetAsset ? { dataset_asset: Number(datasetAsset) } : {}), certified_compute_only: certifiedComputeOnly,
                           ...(baseRequired ? { model_asset: spec.model.base?.asset } : {}) };
  }
  status.dataset.state = "pinning";
  status.textContent = "Pinning the spec through the gateway…";
  const body = await postToGateway<Pinned>(ctx, "/specs", spec);
  const budget = reward * BigInt(spec.training.rounds) * BigInt(spec.providers.max);
  const token = contract(ctx.config, "CommonsToken");
  const market = contract(ctx.config, "JobMarket");
  const account = wallet.account as Address;
  const now = (await wallet.public.getBlock()).timestamp;
  const params = {
    specCid: body.cid, paymentToken: token.address, budget, rewardPerRound: reward, rounds: spec.training.rounds,
    minProviders: spec.providers.min, maxProviders: spec.providers.max, requiredStake: stake,
    joinDeadline: now + BigInt(number("join")), roundTimeout: number("timeout"),
    coordinator: String(data.get("coordinator")) as Address,
  };
  const allowance = (await wallet.public.readContract({ ...token, functionName: "allowance", args: [account, market.address] })) as bigint;
  let receipt;
  const simulated = "catalog_id" in spec.dataset ? spec.dataset.catalog_id : null;
  const modelAsset = BigInt(spec.certification?.model_asset ?? 0);
  const requirements = { datasetAsset, datasetId: simulated ? keccak256(toBytes(simulated)) : ZERO, certifiedComputeOnly, modelAsset };
  if (body.data_terms) {  // a job on providers' own data: the market records each provider's privacy spend at join
    const { asset, schema, epsilon, delta } = body.data_terms;
    if (allowance < budget) {
      await sendTx(wallet, status, "Approve the escrow", { ...token, functionName: "approve", args: [market.address, budget] });
    }
    receipt = await sendTx(wallet, status, "Post the job on the providers' data", { ...market, functionName: "postJobWithData",
      args: [params, requirements, { asset: BigInt(asset), schema, epsilon: BigInt(epsilon), delta: BigInt(delta) }] });
  } else if (required) {  // the market takes requirements only with an allowance (there is no permit variant)
    if (allowance < budget) {
      await sendTx(wallet, status, "Approve the escrow", { ...token, functionName: "approve", args: [market.address, budget] });
    }
    receipt = await sendTx(wallet, status, "Post the job with its requirements", { ...market,
      functionName: "postJobWithRequirements", args: [params, requirements] });
  } else if (allowance >= budget) {
    receipt = await sendTx(wallet, status, "Post the job", { ...market, functionName: "postJob", args: [params] });
  } else if (data.get("escrow") === "permit") {
    const deadline = now + 3600n;
    await checkBeforeSigning(wallet, status, market, token, [params, deadline, 0, ZERO, ZERO]);
    const { v, r, s } = await signPermit(wallet, status, token, market.address, budget, deadline);
    receipt = await sendTx(wallet, status, "Post the job with the permit", { ...market, functionName: "postJobWithPermit",
      args: [params, deadline, v, r, s] });
  } else {
    await sendTx(wallet, status, "Approve the escrow", { ...token, functionName: "approve", args: [market.address, budget] });
    receipt = await sendTx(wallet, status, "Post the job", { ...market, functionName: "postJob", args: [params] });
  }
  const [posted] = parseEventLogs({ abi: market.abi, logs: receipt.logs, eventName: "JobPosted" }) as unknown as {
    args: { jobId: bigint };
  }[];
  await getFromGateway(ctx, `/chain/jobs/${posted.args.jobId}`);  // the gateway indexes it now: its page and lists show it
  result.replaceChildren(`Job ${posted.args.jobId} posted: ${tokens(budget)} DPG in escrow, spec ${body.cid}. `,
    el("a", { href: `#job/${posted.args.jobId}`, id: "follow-job" }, "Follow it"));
  result.dataset.jobId = String(posted.args.jobId);
}

function jobRows(jobs: IndexedJob[], withPoster: boolean): (Node | string)[][] {
  return jobs.map((job) => [
    el("a", { href: `#job/${job.id}`, class: "job-link" }, `Job ${job.id}`), job.state.toLowerCase(),
    `${job.committed_rounds} / ${job.rounds}`, job.budget, job.credited, ...(withPoster ? [short(job.poster)] : [])]);
}

async function myJobs(ctx: Ctx): Promise<HTMLElement> {
  const section = el("section", {}, el("h2", {}, "Your jobs"));
  const me = ctx.wallet?.account;
  if (!me) return section;
  const jobs = (await getFromGateway<IndexedJob[]>(ctx, `/chain/jobs?poster=${me}&limit=50`)) ?? [];
  section.append(jobs.length ? table(["Job", "State", "Rounds", "Escrow (DPG)", "Paid out (DPG)"], jobRows(jobs, false), "my-jobs")
    : el("p", {}, `No job posted from ${short(me)} yet.`));
  return section;
}

async function recentJobs(ctx: Ctx): Promise<HTMLElement> {
  const jobs = (await getFromGateway<IndexedJob[]>(ctx, "/chain/jobs?limit=20")) ?? [];
  return el("section", {}, el("h2", {}, "Recent jobs"), jobs.length
    ? table(["Job", "State", "Rounds", "Escrow (DPG)", "Paid out (DPG)", "Posted by"], jobRows(jobs, true), "recent-jobs")
    : el("p", {}, "No job posted yet."));
}

export async function renderJobs(root: HTMLElement, ctx: Ctx): Promise<void> {
  if (!ctx.wallet) {
    root.replaceChildren(problem("Connect a wallet to post jobs."), await recentJobs(ctx));
    return;
  }
  root.replaceChildren(await postForm(ctx), await myJobs(ctx), await recentJobs(ctx));
}
