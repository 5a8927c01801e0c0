// Catalog: DPG assets with their certification stage, a certified badge and the expiry.
import type { Address, PublicClient } from "viem";
import { type Ctx, el, readerFor, short, table, utc } from "../app";
import { contract } from "../config";

export const KINDS = ["dataset", "model", "software", "compute commitment"];
export const STAGES = ["none", "registered", "awaiting check", "check failed", "voting", "vote failed",
  "committee review", "rejected", "certified", "revoked"];

export interface Asset {
  owner: Address;
  kind: number;
  stage: number;
  review: number;
  standardVersion: number;
  certifiedUntil: bigint;
  metadataCid: string;
  licence: string;
}

/** The registry's assets (those `keep` accepts, when given) with whether each is certified now. */
export async function readAssets(ctx: Ctx, reader: PublicClient, keep: (asset: Asset) => boolean = () => true):
    Promise<{ id: bigint; asset: Asset; certified: boolean }[]> {
  const dpg = contract(ctx.config, "DPGRegistry");
  const count = (await reader.readContract({ ...dpg, functionName: "assetCount" })) as bigint;
  const found = [];
  for (let id = 1n; id <= count; id++) {
    const asset = (await reader.readContract({ ...dpg, functionName: "getAsset", args: [id] })) as Asset;
    if (!keep(asset)) continue;
    const certified = (await reader.readContract({ ...dpg, functionName: "isCertified", args: [id] })) as boolean;
    found.push({ id, asset, certified });
  }
  return found;
}

export async function renderCatalog(root: HTMLElement, ctx: Ctx): Promise<void> {
  const reader = readerFor(root, ctx, "read the catalog from the chain");
  if (!reader) return;
  const rows = [];
  for (const { id, asset, certified } of await readAssets(ctx, reader)) {
    const until = asset.certifiedUntil ? utc(asset.certifiedUntil).slice(0, 10) : "-";
    rows.push([
      String(id), KINDS[asset.kind] ?? String(asset.kind), asset.licence, short(asset.owner),
      el("span", { class: certified ? "badge certified" : "badge" }, certified ? "certified" : STAGES[asset.stage] ?? "?"),
      until, `v${asset.standardVersion}`,
    ]);
  }
  root.replaceChildren(el("h2", {}, "Catalog"), rows.length
    ? table(["Asset", "Kind", "Licence", "Owner", "Status", "Certified until", "Standard"], rows, "assets")
    : el("p", {}, "No assets registered yet."));
}
