// What every page gets: the deployment, the connected wallet (if any), and small DOM helpers.
import { type Address, type PublicClient, formatUnits } from "viem";
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
