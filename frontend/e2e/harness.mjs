// The browser side of the web app's tests: headless Debian Chromium (playwright-core) with a test wallet injected
// into every page, an EIP-6963-announced EIP-1193 provider whose requests go to the test chain (anvil signs for
// its development accounts). Optionally the wallet starts on the wrong network until the app asks it to switch, or
// refuses to give its accounts (the user said no).
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

/** One JSON-RPC request to the test chain: the whole answer (result or error). */
export async function rpcRequest(rpcUrl, method, params = []) {
  const response = await fetch(rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  return await response.json();
}

/** Time travel on the test chain (anvil): `seconds` later, in a new block. */
export async function travel(rpcUrl, seconds) {
  await rpcRequest(rpcUrl, "evm_increaseTime", [seconds]);
  await rpcRequest(rpcUrl, "evm_mine");
}

export async function openApp({ appUrl, rpcUrl, account, outDir, startOnWrongChain = false, wallet = true,
                                refuseAccounts = false }) {
  mkdirSync(outDir, { recursive: true });
  let reportedChain = startOnWrongChain ? "0x1" : null;
  const rpc = async (method, params) => {
    if (method === "eth_requestAccounts" && refuseAccounts) {
      return { error: { code: 4001, message: "User rejected the request." } };  // EIP-1193's user rejection
    }
    if (method === "eth_requestAccounts" || method === "eth_accounts") return { result: [account] };
    if (method === "eth_chainId" && reportedChain) return { result: reportedChain };
    if (method === "wallet_switchEthereumChain") {
      reportedChain = null;
      return { result: null };
    }
    return await rpcRequest(rpcUrl, method, params ?? []);
  };
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  if (wallet) await context.exposeFunction("odpgTestRpc", rpc);
  if (wallet) await context.addInitScript(() => {
    const provider = {
      async request({ method, params }) {
        const answer = await window.odpgTestRpc(method, params);
        if (answer.error) {
          const error = new Error(answer.error.message);
          error.code = answer.error.code;
          error.data = answer.error.data;
          throw error;
        }
        return answer.result;
      },
      on() {},
      removeListener() {},
    };
    const info = { uuid: "5e0e5e6a-1f1c-4c3b-9d3e-0a1b2c3d4e5f", name: "OpenDPG Test Wallet",
                   icon: "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E", rdns: "org.opendpg.testwallet" };
    const announce = () => window.dispatchEvent(new CustomEvent("eip6963:announceProvider",
                                                                { detail: Object.freeze({ info, provider }) }));
    window.addEventListener("eip6963:requestProvider", announce);
  });
  const page = await context.newPage();
  page.on("pageerror", (error) => console.error(`page error: ${error.message}`));
  const screenshots = [];
  return {
    page,
    screenshots,
    close: () => browser.close(),
    async shot(name) {
      const path = `${outDir}/${name}.png`;
      await page.screenshot({ path, fullPage: true });
      screenshots.push(path);
    },
    async open(pageName) {
      await page.goto(`${appUrl}#${pageName}`);
      await page.getByRole("button", { name: "Connect OpenDPG Test Wallet" }).click();
      // connected: the page re-renders from here on, so a later ready() waits for the connected render, not the
      // one before the click
      await page.waitForSelector("#account");
    },
    async ready(pageName, timeout = 180_000) {
      await page.waitForSelector(`main[data-page="${pageName}"][data-ready="true"]`, { timeout });
    },
    async visit(pageName) {
      await page.click(`nav a[data-page="${pageName}"]`);
      await page.waitForSelector(`main[data-page="${pageName}"][data-ready="true"]`, { timeout: 180_000 });
    },
  };
}

/** Open the app, run `steps(app, seen)`, then print what the page showed (`seen`, with the screenshots taken) as
 * one JSON line on stdout for the Python test; the browser is closed whatever happens. */
export async function scenario(options, steps) {
  const app = await openApp(options);
  const seen = {};
  try {
    await steps(app, seen);
    seen.screenshots = app.screenshots;
    console.log(JSON.stringify(seen));
  } finally {
    await app.close();
  }
}

export function args(names) {
  const values = process.argv.slice(2);
  if (values.length < names.length) {
    console.error(`usage: node ${process.argv[1]} ${names.map((n) => n.toUpperCase()).join(" ")}`);
    process.exit(2);
  }
  return Object.fromEntries(names.map((name, i) => [name, values[i]]));
}
