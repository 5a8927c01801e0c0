// The job market as the pages read it: job states and a job's fields (IJobMarket.Job, the ones shown).
import type { Address } from "viem";

export const JOB_STATES = ["none", "open", "running", "finished", "cancelled", "aborted"];

export interface JobView {
  state: number;
  rounds: number;
  committedRounds: number;
  providerCount: number;
  maxProviders: number;
  budget: bigint;
  credited: bigint;
  poster: Address;
}
