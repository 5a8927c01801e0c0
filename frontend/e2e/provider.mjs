// A provider from a wallet. `register`: register the node with its capabilities and 100 DPG of stake, then add 50.
// `claim`: claim every reward the earnings table offers. A screenshot after each; what the page showed as JSON.
//   node e2e/provider.mjs APP_URL RPC_URL ACCOUNT OUT_DIR register|claim
import { args, openApp } from "./harness.mjs";

const { appUrl, rpcUrl, account, outDir, step } = args(["appUrl", "rpcUrl", "account", "outDir", "step"]);
const app = await openApp({ appUrl, rpcUrl, account, outDir });
const { page } = app;
const seen = {};
try {
  await app.open("providers");
  await app.ready("providers");
  if (step === "register") {
    await page.fill('#register-node input[name="stake"]', "100");
    await page.click('#register-node button[type="submit"]');
    await page.waitForSelector("#my-stake", { timeout: 60_000 });
    await page.fill('#add-stake input[name="amount"]', "50");
    await page.click('#add-stake button[type="submit"]');
    await page.waitForFunction(() => document.querySelector("#my-stake td")?.textContent === "150", null,
                               { timeout: 60_000 });
    seen.stake = await page.textContent("#my-stake");
    await app.shot("provider-registered");
  } else {
    const button = page.locator("button.claim").first();
    seen.offer = await button.textContent();
    await button.click();
    await page.waitForFunction(() => document.querySelectorAll("button.claim").length === 0, null, { timeout: 60_000 });
    seen.earnings = await page.textContent("#my-node h3");
    await app.shot("provider-claimed");
  }
  seen.screenshots = app.screenshots;
  console.log(JSON.stringify(seen));
} finally {
  await app.close();
}
