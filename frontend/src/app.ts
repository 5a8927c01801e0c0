// What every page gets: the deployment, the connected wallet (if any), and small DOM helpers.
import { type Address, type PublicClient, formatUnits, parseUnits } from "viem";
import type { AppConfig } from "./config";
import type { Wallet } from "./wallet";

export interface Ctx {
  config: AppConfig;
  wallet: Wallet | null;
  /** Chain reads: through the wallet when one is connected, else the public RPC the gateway names (or none). */
  reader: PublicClient | null;
  /** A wallet on the right network, or an error that says what to do. */
  ready(): Wallet;
}

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  node.append(...children);
  return node;
}

export function tokens(wei: bigint, digits = 4): string {
  const [whole, fraction = ""] = formatUnits(wei, 18).split(".");
  const trimmed = fraction.slice(0, digits).replace(/0+$/, "");
  return trimmed ? `${whole}.${trimmed}` : whole;
}

/** A DPG amount typed by a person, or an error naming the field. */
export function parseDpg(raw: string, what: string): bigint {
  if (!/^\d+(\.\d{1,18})?$/.test(raw.trim())) throw new Error(`${what}: "${raw}" is not an amount of DPG (like 100 or 12.5)`);
  return parseUnits(raw.trim(), 18);
}

/** A chain timestamp (seconds) as "YYYY-MM-DD HH:MM" in UTC. */
export function utc(seconds: bigint | number): string {
  return new Date(Number(seconds) * 1000).toISOString().slice(0, 16).replace("T", " ");
}

export function short(address: Address | string): string {
  return `${address.slice(0, 8)}…${address.slice(-4)}`;
}

export function table(headers: string[], rows: (Node | string)[][], id?: string): HTMLTableElement {
  const t = el("table", id ? { id } : {});
  t.append(el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))));
  t.append(el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", {}, c))))));
  return t;
}

export function problem(text: string): HTMLElement {
  return el("p", { class: "problem", role: "alert" }, text);
}

/** The chain reader, or (when there is none) a message on the page saying a wallet is needed to `what`. */
export function readerFor(root: HTMLElement, ctx: Ctx, what: string): PublicClient | null {
  if (!ctx.reader) root.replaceChildren(problem(`Connect a wallet to ${what}.`));
  return ctx.reader;
}

/** GET a path of the gateway: the answer, null for 404, or an Error saying what went wrong. */
export async function getFromGateway<T>(ctx: Ctx, path: string): Promise<T | null> {
  const response = await fetch(`${ctx.config.gateway}${path}`);
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`the gateway answered ${response.status} for ${path}: ${await response.text()}`);
  return (await response.json()) as T;
}

/** POST JSON to the gateway: its answer, or an Error naming each problem (field: message) it reported. */
export async function postToGateway<T>(ctx: Ctx, path: string, body: unknown): Promise<T> {
  const response = await fetch(`${ctx.config.gateway}${path}`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) {
    const details: { loc?: (string | number)[]; msg: string }[] = Array.isArray(answer.detail)
      ? answer.detail : [{ msg: String(answer.detail) }];
    throw new Error(details.map((d) => {
      const field = (d.loc ?? []).slice(1).join(".");
      return field ? `${field}: ${d.msg}` : d.msg;
    }).join("; "));
  }
  return answer as T;
}

/** Render a page again after an action, keeping what its transaction status line (element `statusId`) said. */
export async function rerenderKeeping(root: HTMLElement, statusId: string, render: () => Promise<void>): Promise<void> {
  const status = document.getElementById(statusId);
  const keep = { state: status?.dataset.state ?? "", text: status?.textContent ?? "" };
  delete root.dataset.ready;
  await render();
  const fresh = document.getElementById(statusId);
  if (fresh && keep.state) {
    fresh.dataset.state = keep.state;
    fresh.textContent = keep.text;
  }
}
