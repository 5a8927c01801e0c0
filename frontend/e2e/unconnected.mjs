// A visitor whose wallet is installed but not connected: the pages ask to connect, and when the user refuses the
// connection in the wallet the app says so and stays readable. A screenshot; what the page showed as JSON.
//   node e2e/unconnected.mjs APP_URL RPC_URL ACCOUNT OUT_DIR
import { args, scenario } from "./harness.mjs";

const { appUrl, rpcUrl, account, outDir } = args(["appUrl", "rpcUrl", "account", "outDir"]);
await scenario({ appUrl, rpcUrl, account, outDir, refuseAccounts: true }, async (app, seen) => {
  const { page } = app;
  await page.goto(`${appUrl}#jobs`);
  await app.ready("jobs");
  seen.walletArea = await page.textContent("#wallet");
  seen.jobs = await page.textContent("main");
  await app.visit("providers");
  seen.providers = await page.textContent("main");
  await app.visit("governance");
  seen.governance = await page.textContent("main");
  await page.getByRole("button", { name: "Connect OpenDPG Test Wallet" }).click();
  await page.waitForSelector("#wallet .problem");
  seen.refused = await page.textContent("#wallet .problem");
  await app.shot("wallet-not-connected");
});
