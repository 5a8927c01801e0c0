// Jobs from a wallet: the wrong-network banner and switch, a bad amount and a decoded revert before anything is
// signed, a job posted with escrow by a signed permit and one by approving first, then every page; a screenshot of each; what the page showed as JSON on stdout.
//   node e2e/app.mjs APP_URL RPC_URL ACCOUNT OUT_DIR BASE_ASSET (a model asset: the second job starts from it)
import { args, scenario } from "./harness.mjs";

const { appUrl, rpcUrl, account, outDir, baseAsset } = args(["appUrl", "rpcUrl", "account", "outDir", "baseAsset"]);
await scenario({ appUrl, rpcUrl, account, outDir, startOnWrongChain: true }, async (app, seen) => {
  const { page } = app;
  await app.open("jobs");
  await page.waitForSelector("#network:not([hidden])");
  seen.wrongNetwork = await page.textContent("#network");
  await app.shot("wrong-network");
  await page.click("#switch-network");
  await page.waitForSelector("#network", { state: "hidden" });
  await app.ready("jobs");

  await page.fill('input[name="reward"]', "0");
  await page.click('#post-job button[type="submit"]');
  await page.waitForSelector('#post-status[data-state="refused"]', { timeout: 180_000 });
  seen.refused = await page.textContent("#post-status");
  await app.shot("job-refused");

  await page.fill('input[name="reward"]', "2x");
  await page.click('#post-job button[type="submit"]');
  await page.waitForSelector('#post-status[data-state="refused"]', { timeout: 180_000 });
  seen.badAmount = await page.textContent("#post-status");

  // escrow by a signed permit (the form's default): one transaction
  await page.fill('input[name="name"]', "Digits from the browser");
  await page.fill('input[name="reward"]', "2");
  await page.fill('input[name="rounds"]', "3");
  await page.click('#post-job button[type="submit"]');
  await page.waitForSelector("#post-result[data-job-id]", { timeout: 180_000 });
  seen.jobId = Number(await page.getAttribute("#post-result", "data-job-id"));
  seen.posted = await page.textContent("#post-result");
  seen.status = await page.textContent("#post-status");

  // escrow by approving the market first: two transactions; this job starts from a base model asset (its
  // architecture taken from the base's card) and fine-tunes LoRA adapters on the MLP's first layer (module "1"),
  // training its output layer ("3") in full
  await page.fill('input[name="name"]', "Digits, approved first");
  await page.fill('input[name="rounds"]', "1");
  await page.selectOption('select[name="model"]', "library");
  await page.selectOption('select[name="baseAsset"]', baseAsset);
  await page.fill('input[name="loraRank"]', "4");
  await page.fill('input[name="loraTargets"]', "1");
  await page.fill('input[name="loraSave"]', "3");
  await page.selectOption('select[name="escrow"]', "approve");
  await page.click('#post-job button[type="submit"]');
  await page.waitForFunction((previous) => {
    const id = document.getElementById("post-result")?.dataset.jobId;
    return id !== undefined && id !== previous;
  }, String(seen.jobId), { timeout: 180_000 });
  seen.approvedJobId = Number(await page.getAttribute("#post-result", "data-job-id"));
  await app.visit("catalog");
  await app.visit("jobs");
  seen.myJobs = await page.textContent("#my-jobs");
  await app.shot("jobs");

  for (const name of ["providers", "governance", "catalog"]) {
    await app.visit(name);
    seen[name] = await page.textContent("main");
    await app.shot(name);
  }
});
