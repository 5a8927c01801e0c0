// A job that requires a certified dataset: the form lists the datasets certified now; the job is posted with its
// requirements (escrow by approval). A screenshot; what the page showed as JSON on stdout.
//   node e2e/require.mjs APP_URL RPC_URL ACCOUNT OUT_DIR ASSET_ID
import { args, scenario } from "./harness.mjs";

const { appUrl, rpcUrl, account, outDir, assetId } = args(["appUrl", "rpcUrl", "account", "outDir", "assetId"]);
await scenario({ appUrl, rpcUrl, account, outDir }, async (app, seen) => {
  const { page } = app;
  await app.open("jobs");
  await app.ready("jobs");
  seen.page = await page.textContent("main");
  seen.offered = await page.$$eval('select[name="datasetAsset"] option', (options) => options.map((o) => o.value));
  await page.fill('input[name="name"]', "Digits on certified data");
  await page.selectOption('select[name="datasetAsset"]', assetId);
  await page.click('#post-job button[type="submit"]');
  await page.waitForSelector("#post-result[data-job-id]", { timeout: 180_000 });
  seen.jobId = Number(await page.getAttribute("#post-result", "data-job-id"));
  seen.status = await page.textContent("#post-status");
  await app.shot("job-with-requirements");
});
