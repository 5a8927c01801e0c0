// A provider from a wallet. `register`: register the node with its capabilities and 100 DPG of stake, then add 50.
// `claim`: claim every reward the earnings table offers. `unbond`: unbonding that would leave less than the minimum
// stake is refused with the decoded reason, 30 DPG start unbonding, withdrawing early is refused, and after the
// unbonding period (time travel on the test chain) the 30 DPG are withdrawn. A screenshot after each; what the
// page showed as JSON.
//   node e2e/provider.mjs APP_URL RPC_URL ACCOUNT OUT_DIR register|claim|unbond
import { args, scenario, travel } from "./harness.mjs";

const { appUrl, rpcUrl, account, outDir, step } = args(["appUrl", "rpcUrl", "account", "outDir", "step"]);
await scenario({ appUrl, rpcUrl, account, outDir }, async (app, seen) => {
  const { page } = app;
  await app.open("providers");
  await app.ready("providers");
  if (step === "register") {
    await page.fill('#register-node input[name="stake"]', "100");
    await page.click('#register-node button[type="submit"]');
    await page.waitForSelector("#my-stake", { timeout: 180_000 });
    await page.fill('#add-stake input[name="amount"]', "50");
    await page.click('#add-stake button[type="submit"]');
    await page.waitForFunction(() => document.querySelector("#my-stake td")?.textContent === "150", null,
                               { timeout: 180_000 });
    seen.stake = await page.textContent("#my-stake");
    await app.shot("provider-registered");
  } else if (step === "unbond") {
    const state = (value) => page.waitForSelector(`#provider-status[data-state="${value}"]`, { timeout: 180_000 });
    await page.fill('#unbond input[name="amount"]', "60");
    await page.click('#unbond button[type="submit"]');
    await state("refused");
    seen.belowMinimum = await page.textContent("#provider-status");
    await page.fill('#unbond input[name="amount"]', "30");
    await page.click('#unbond button[type="submit"]');
    await page.waitForSelector("#withdraw", { timeout: 180_000 });
    seen.unbonding = await page.$$eval("#my-stake td", (cells) => cells.map((cell) => cell.textContent));
    await page.click("#withdraw");
    await state("refused");
    seen.early = await page.textContent("#provider-status");
    await app.shot("provider-unbonding");
    await travel(rpcUrl, 7 * 86_400 + 1);
    await page.click("#withdraw");
    await page.waitForSelector("#withdraw", { state: "detached", timeout: 180_000 });
    seen.withdrawn = await page.textContent("#provider-status");
    seen.after = await page.$$eval("#my-stake td", (cells) => cells.map((cell) => cell.textContent));
    await app.shot("provider-withdrawn");
  } else {
    const button = page.locator("button.claim").first();
    seen.offer = await button.textContent();
    await button.click();
    await page.waitForFunction(() => document.querySelectorAll("button.claim").length === 0, null, { timeout: 180_000 });
    seen.earnings = await page.textContent("#my-node h3");
    await app.shot("provider-claimed");
  }
});
