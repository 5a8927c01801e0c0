// Browser wallets through EIP-1193, found with EIP-6963 discovery (window.ethereum as a fallback); the viem
// clients the pages use; the wrong-network and not-connected states.
import {
  type Address,
  type Chain,
  type PublicClient,
  type WalletClient,
  createPublicClient,
  createWalletClient,
  custom,
  defineChain,
} from "viem";
import type { AppConfig } from "./config";

export interface Eip1193Provider {
  request(args: { method: string; params?: unknown[] | object }): Promise<unknown>;
  on?(event: string, listener: (...args: unknown[]) => void): void;
}

export interface ProviderDetail {
  info: { uuid: string; name: string; icon: string; rdns: string };
  provider: Eip1193Provider;
}

/** Every wallet that announces itself (EIP-6963), plus window.ethereum when none does. */
export function discoverWallets(waitMs = 250): Promise<ProviderDetail[]> {
  const found = new Map<string, ProviderDetail>();
  const listener = (event: Event) => {
    const detail = (event as CustomEvent<ProviderDetail>).detail;
    if (detail?.info?.uuid && detail.provider) found.set(detail.info.uuid, detail);
  };
  window.addEventListener("eip6963:announceProvider", listener);
  window.dispatchEvent(new Event("eip6963:requestProvider"));
  return new Promise((resolve) =>
    setTimeout(() => {
      window.removeEventListener("eip6963:announceProvider", listener);
      const legacy = (window as unknown as { ethereum?: Eip1193Provider }).ethereum;
      if (found.size === 0 && legacy) {
        found.set("legacy", { info: { uuid: "legacy", name: "Browser wallet", icon: "", rdns: "" }, provider: legacy });
      }
      resolve([...found.values()]);
    }, waitMs),
  );
}

export class Wallet {
  readonly chain: Chain;
  readonly public: PublicClient;
  readonly client: WalletClient;
  account: Address | null = null;
  chainId: number | null = null;

  constructor(
    readonly detail: ProviderDetail,
    readonly config: AppConfig,
  ) {
    this.chain = defineChain({
      id: config.chainId,
      name: `OpenDPG chain ${config.chainId}`,
      nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
      rpcUrls: { default: { http: [] } },
    });
    const transport = custom(detail.provider);
    this.public = createPublicClient({ chain: this.chain, transport });
    this.client = createWalletClient({ chain: this.chain, transport });
  }

  async connect(): Promise<Address> {
    const accounts = (await this.detail.provider.request({ method: "eth_requestAccounts" })) as Address[];
    if (!accounts.length) throw new Error("the wallet gave no account");
    this.account = accounts[0];
    this.chainId = Number(await this.detail.provider.request({ method: "eth_chainId" }));
    return this.account;
  }

  get onRightNetwork(): boolean {
    return this.chainId === this.config.chainId;
  }

  async switchNetwork(): Promise<void> {
    await this.detail.provider.request({
      method: "wallet_switchEthereumChain",
      params: [{ chainId: `0x${this.config.chainId.toString(16)}` }],
    });
    this.chainId = Number(await this.detail.provider.request({ method: "eth_chainId" }));
  }
}
