// The deployment the gateway serves at /app-config: chain id, first block, contract addresses and ABIs.
import type { Abi, Address } from "viem";

export interface ContractInfo {
  address: Address;
  abi: Abi;
}

export interface AppConfig {
  chainId: number;
  startBlock: bigint;
  contracts: Record<string, ContractInfo>;
  gateway: string;
  /** A JSON-RPC URL for reads without a wallet, when the gateway names one. */
  rpcUrl: string | null;
}

export async function loadConfig(gateway = window.location.origin): Promise<AppConfig> {
  const response = await fetch(`${gateway}/app-config`);
  if (!response.ok) {
    throw new Error(`the gateway did not give its deployment (${response.status}): is it connected to a chain?`);
  }
  const body = (await response.json()) as {
    chain_id: number;
    start_block: number;
    contracts: Record<string, { address: Address; abi: Abi }>;
    rpc_url: string | null;
  };
  return { chainId: body.chain_id, startBlock: BigInt(body.start_block), contracts: body.contracts, gateway,
           rpcUrl: body.rpc_url };
}

export function contract(config: AppConfig, name: string): ContractInfo {
  const info = config.contracts[name];
  if (!info) throw new Error(`the deployment has no ${name}`);
  return info;
}
