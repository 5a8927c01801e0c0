// A job on a dataset asset its providers hold in their own files: the form lists the dataset assets; the job
// names one and a DP-SGD epsilon, the gateway fills in the asset's schema and answers the on-chain data terms, and
// the job is posted with postJobWithData (escrow by approval). A screenshot; what the page showed as JSON on stdout.
//   node e2e/heldata.mjs APP_URL RPC_URL ACCOUNT OUT_DIR ASSET_ID
import { args, scenario } from "./harness.mjs";

const { appUrl, rpcUrl, account, outDir, assetId } = args(["appUrl", "rpcUrl", "account", "outDir", "assetId"]);
await scenario({ appUrl, rpcUrl, account, outDir }, async (app, seen) => {
  const { page } = app;
  await app.open("jobs");
  await app.ready("jobs");
  seen.offered = await page.$$eval('select[name="dataset"] option', (options) => options.map((o) => o.value));
  await page.fill('input[name="name"]', "Breast cancer where the hospitals keep it");
  await page.selectOption('select[name="dataset"]', `asset:${assetId}`);
  await page.fill('input[name="epsilon"]', "6.5");
  await page.fill('input[name="noise"]', "1.2");
  await page.click('#post-job button[type="submit"]');
  await page.waitForSelector("#post-result[data-job-id]", { timeout: 180_000 });
  seen.jobId = Number(await page.getAttribute("#post-result", "data-job-id"));
  seen.status = await page.textContent("#post-status");
  await app.shot("job-on-held-data");
});
