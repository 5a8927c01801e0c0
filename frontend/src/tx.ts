// One transaction's life on the page: waiting for the wallet, pending, mined, or reverted with the decoded reason.
import { BaseError, ContractFunctionRevertedError, type Abi, type Address, type Hash, type TransactionReceipt } from "viem";
import { el } from "./app";
import type { Wallet } from "./wallet";

export type TxState = "wallet" | "pending" | "mined" | "reverted" | "refused";

const GAS_MARGIN_DIVISOR = 4n;  // gas limit = estimate + estimate / 4

export function describeError(error: unknown): string {
  if (error instanceof BaseError) {
    const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
    if (reverted instanceof ContractFunctionRevertedError && reverted.data?.errorName) {
      const args = (reverted.data.args ?? []).map((a) => String(a)).join(", ");
      return `reverted: ${reverted.data.errorName}(${args})`;
    }
    if (error.walk((e) => (e as { code?: number }).code === 4001)) return "refused in the wallet";
    return error.shortMessage;
  }
  if ((error as { code?: number } | null)?.code === 4001) return "refused in the wallet";  // EIP-1193 user rejection
  return error instanceof Error ? error.message : String(error);
}

/** Simulate (so a revert shows its decoded reason before anything is signed), ask the wallet, wait for the receipt. */
export async function sendTx(
  wallet: Wallet,
  status: HTMLElement,
  label: string,
  call: { address: Address; abi: Abi; functionName: string; args: readonly unknown[] },
): Promise<TransactionReceipt> {
  const show = (state: TxState, text: string) => {
    status.dataset.state = state;
    status.textContent = `${label}: ${text}`;
  };
  if (!wallet.account) throw new Error("connect a wallet first");
  let hash: Hash;
  try {
    const { request } = await wallet.public.simulateContract({ ...call, account: wallet.account });
    // the estimate is for the state now; another transaction mined first can make the call cost more (a storage
    // slot it wrote from zero, a longer list): a quarter more, as wallets add, so it is not mined out of gas
    const estimate = await wallet.public.estimateContractGas({ ...call, account: wallet.account });
    show("wallet", "waiting for the wallet…");
    hash = await wallet.client.writeContract({
      ...request, account: wallet.account, chain: wallet.chain, gas: estimate + estimate / GAS_MARGIN_DIVISOR,
    });
  } catch (error) {
    show("refused", describeError(error));
    throw error;
  }
  show("pending", `pending (${hash.slice(0, 12)}…)`);
  const receipt = await wallet.public.waitForTransactionReceipt({ hash, pollingInterval: 250 });
  if (receipt.status !== "success") {
    show("reverted", `reverted in block ${receipt.blockNumber}${await whyReverted(wallet, call, receipt)}`);
    throw new Error(`${label} reverted`);
  }
  show("mined", `mined in block ${receipt.blockNumber}`);
  return receipt;
}

/** Why a mined transaction reverted: the call replayed on the state before its block (its decoded error), or
 * "out of gas" when the replay passes and the transaction used all the gas it was given. */
async function whyReverted(wallet: Wallet, call: { address: Address; abi: Abi; functionName: string; args: readonly unknown[] },
                           receipt: TransactionReceipt): Promise<string> {
  try {
    await wallet.public.simulateContract({ ...call, account: wallet.account!, blockNumber: receipt.blockNumber - 1n });
  } catch (error) {
    return ` (${describeError(error)})`;
  }
  const sent = await wallet.public.getTransaction({ hash: receipt.transactionHash });
  return receipt.gasUsed >= sent.gas ? ` (out of gas: it was given ${sent.gas})` : "";
}

/** A button that runs `onClick` through {@link act}. */
export function actionButton(label: string, attrs: Record<string, string>, status: HTMLElement,
                             onClick: () => Promise<unknown>): HTMLButtonElement {
  const b = el("button", { type: "button", ...attrs }, label);
  b.addEventListener("click", () => act(status, onClick));
  return b;
}

/** Run what a click or a form starts. An error no transaction step has shown yet (a bad amount, the gateway's
 * refusal, a wallet on the wrong network) is shown in `status` as refused; nothing fails silently. */
export function act(status: HTMLElement, action: () => Promise<unknown>): void {
  status.dataset.state = "working";
  status.textContent = "";
  void (async () => action())().catch((error: unknown) => {
    if (status.dataset.state !== "refused" && status.dataset.state !== "reverted") {  // else sendTx showed it
      status.dataset.state = "refused";
      status.textContent = describeError(error);
    }
  });
}
