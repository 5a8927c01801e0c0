// The app shell: load the deployment from the gateway, connect a wallet (EIP-6963), check the network, route.
import "./style.css";
import { createPublicClient, http } from "viem";
import { type Ctx, el, problem, short } from "./app";
import { type AppConfig, loadConfig } from "./config";
import { renderCatalog } from "./pages/catalog";
import { renderGovernance } from "./pages/governance";
import { renderJob } from "./pages/job";
import { renderJobs } from "./pages/jobs";
import { renderProviders } from "./pages/providers";
import { describeError } from "./tx";
import { Wallet, discoverWallets } from "./wallet";

const PAGES: Record<string, (root: HTMLElement, ctx: Ctx) => Promise<void>> = {
  jobs: renderJobs, providers: renderProviders, governance: renderGovernance, catalog: renderCatalog,
};

function context(config: AppConfig, wallet: Wallet | null): Ctx {
  const reader = wallet ? wallet.public : config.rpcUrl ? createPublicClient({ transport: http(config.rpcUrl) }) : null;
  return {
    config,
    wallet,
    reader,
    ready() {
      if (!wallet?.account) throw new Error("connect a wallet first");
      if (!wallet.onRightNetwork) throw new Error(`switch the wallet to chain ${config.chainId}`);
      return wallet;
    },
  };
}

async function route(ctx: Ctx): Promise<void> {
  const [name, param] = (window.location.hash.slice(1) || "jobs").split("/");
  const root = document.getElementById("page") as HTMLElement;
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("active", (link as HTMLElement).dataset.page === (name === "job" ? "jobs" : name));
  }
  root.dataset.page = name;
  delete root.dataset.ready;
  root.replaceChildren(el("p", { class: "loading" }, "Loading…"));
  try {
    if (name === "job" && param && /^\d+$/.test(param)) await renderJob(root, ctx, BigInt(param));
    else await (PAGES[name] ?? renderJobs)(root, ctx);
  } catch (error) {
    root.replaceChildren(problem(describeError(error)));
  }
  root.dataset.ready = "true";
}

function showNetwork(wallet: Wallet | null, config: AppConfig, onSwitch: () => void): void {
  const banner = document.getElementById("network") as HTMLElement;
  if (!wallet?.account || wallet.onRightNetwork) {
    banner.hidden = true;
    return;
  }
  const button = el("button", { type: "button", id: "switch-network" }, "Switch network");
  button.addEventListener("click", onSwitch);
  banner.replaceChildren(`Wrong network: the wallet is on chain ${wallet.chainId}, the commons on chain ${config.chainId}. `, button);
  banner.hidden = false;
}

async function start(): Promise<void> {
  const walletArea = document.getElementById("wallet") as HTMLElement;
  let config: AppConfig;
  try {
    config = await loadConfig();
  } catch (error) {
    (document.getElementById("page") as HTMLElement).replaceChildren(problem(describeError(error)));
    return;
  }
  let ctx = context(config, null);
  const refresh = async () => {
    showNetwork(ctx.wallet, config, () => void switchNetwork());
    await route(ctx);
  };
  const switchNetwork = async () => {
    try {
      await ctx.wallet?.switchNetwork();
    } catch (error) {
      walletArea.append(problem(describeError(error)));
    }
    await refresh();
  };
  const wallets = await discoverWallets();
  if (!wallets.length) {
    walletArea.replaceChildren(el("span", { id: "no-wallet" }, "No browser wallet found: install one to post jobs and vote."));
  }
  for (const detail of wallets) {
    const button = el("button", { type: "button", class: "connect" }, `Connect ${detail.info.name}`);
    button.addEventListener("click", async () => {
      try {
        const wallet = new Wallet(detail, config);
        const account = await wallet.connect();
        ctx = context(config, wallet);
        walletArea.replaceChildren(el("span", { id: "account", title: account }, `${detail.info.name}: ${short(account)}`));
        detail.provider.on?.("chainChanged", () => void wallet.connect().then(refresh));
        detail.provider.on?.("accountsChanged", () => void wallet.connect().then(refresh));
        await refresh();
      } catch (error) {
        walletArea.append(problem(describeError(error)));
      }
    });
    walletArea.append(button);
  }
  window.addEventListener("hashchange", () => void route(ctx));
  await refresh();
}

void start();
