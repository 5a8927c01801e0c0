// Drives the web app in headless Debian Chromium (playwright-core) with a test wallet injected into the page:
// an EIP-6963-announced EIP-1193 provider whose requests go to the test chain, where anvil signs for its
// development accounts. Posts a job through the form, checks a decoded revert and the wrong-network state,
// visits every page, saves a screenshot of each, and prints what it saw as JSON for the Python test to check
// against the chain.
//
//   node e2e/app.mjs APP_URL RPC_URL ACCOUNT OUT_DIR
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const [appUrl, rpcUrl, account, outDir] = process.argv.slice(2);
if (!outDir) {
  console.error("usage: node e2e/app.mjs APP_URL RPC_URL ACCOUNT OUT_DIR");
  process.exit(2);
}
mkdirSync(outDir, { recursive: true });
const seen = { screenshots: [] };
let reportedChain = "0x1"; // the wallet starts on the wrong network, until the app asks it to switch

async function rpc(method, params) {
  if (method === "eth_requestAccounts" || method === "eth_accounts") return { result: [account] };
  if (method === "eth_chainId" && reportedChain) return { result: reportedChain };
  if (method === "wallet_switchEthereumChain") {
    reportedChain = null;
    return { result: null };
  }
  const response = await fetch(rpcUrl, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params: params ?? [] }),
  });
  return await response.json();
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.exposeFunction("odpgTestRpc", rpc);
  await context.addInitScript(() => {
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
  const shot = async (name) => {
    const path = `${outDir}/${name}.png`;
    await page.screenshot({ path, fullPage: true });
    seen.screenshots.push(path);
  };
  const ready = () => page.waitForSelector('main[data-ready="true"]', { timeout: 30_000 });

  await page.goto(`${appUrl}#jobs`);
  await page.getByRole("button", { name: "Connect OpenDPG Test Wallet" }).click();
  await page.waitForSelector("#network:not([hidden])");
  seen.wrongNetwork = await page.textContent("#network");
  await shot("wrong-network");
  await page.click("#switch-network");
  await page.waitForSelector("#network", { state: "hidden" });
  await ready();

  // a job the contract refuses: the decoded reason, before anything is signed
  await page.fill('input[name="reward"]', "0");
  await page.click('#post-job button[type="submit"]');
  await page.waitForSelector('#post-status[data-state="refused"]', { timeout: 30_000 });
  seen.refused = await page.textContent("#post-status");
  await shot("job-refused");

  // a job posted with escrow
  await page.fill('input[name="name"]', "Digits from the browser");
  await page.fill('input[name="reward"]', "2");
  await page.fill('input[name="rounds"]', "3");
  await page.click('#post-job button[type="submit"]');
  await page.waitForSelector("#post-result[data-job-id]", { timeout: 60_000 });
  seen.jobId = Number(await page.getAttribute("#post-result", "data-job-id"));
  seen.posted = await page.textContent("#post-result");
  seen.status = await page.textContent("#post-status");
  await page.click('nav a[data-page="catalog"]');
  await page.waitForSelector('main[data-page="catalog"][data-ready="true"]', { timeout: 30_000 });
  await page.click('nav a[data-page="jobs"]');
  await page.waitForSelector('main[data-page="jobs"][data-ready="true"]', { timeout: 30_000 });
  seen.myJobs = await page.textContent("#my-jobs");
  await shot("jobs");

  for (const name of ["providers", "governance", "catalog"]) {
    await page.click(`nav a[data-page="${name}"]`);
    await page.waitForSelector(`main[data-page="${name}"][data-ready="true"]`, { timeout: 30_000 });
    seen[name] = await page.textContent("main");
    await shot(name);
  }
  console.log(JSON.stringify(seen));
} finally {
  await browser.close();
}
