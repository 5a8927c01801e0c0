// The job market as the pages read it: from the gateway's index of the chain (jobs as GET /chain/jobs answers).
import type { Ctx } from "./app";

/** A job as the gateway indexed it (amounts in whole DPG, as decimal strings). */
export interface IndexedJob {
  id: number;
  state: string;
  spec_cid: string;
  poster: string;
  coordinator: string;
  rounds: number;
  committed_rounds: number;
  budget: string;
  credited: string;
  reward_per_round: string;
  max_providers: number;
  tx_hash: string;
}

/** GET a path of the gateway's index: the answer, null for 404, or an Error saying what went wrong. */
export async function fetchIndexed<T>(ctx: Ctx, path: string): Promise<T | null> {
  const response = await fetch(`${ctx.config.gateway}${path}`);
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`the gateway answered ${response.status} for ${path}: ${await response.text()}`);
  return (await response.json()) as T;
}
