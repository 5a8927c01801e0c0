// The job market as the pages read it: from the gateway's index of the chain (jobs as GET /chain/jobs answers).

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
