// A visitor without a browser wallet: the app says so, and still shows a job read from the chain through the public
// RPC the gateway names. A screenshot; what the page showed as JSON.
//   node e2e/nowallet.mjs APP_URL OUT_DIR JOB_ID
import { args, scenario } from "./harness.mjs";

const { appUrl, outDir, jobId } = args(["appUrl", "outDir", "jobId"]);
await scenario({ appUrl, rpcUrl: "", account: "", outDir, wallet: false }, async (app, seen) => {
  const { page } = app;
  await page.goto(`${appUrl}#jobs`);
  await app.ready("jobs");
  seen.noWallet = await page.textContent("#wallet");
  seen.jobs = await page.textContent("main");
  await page.click(`a.job-link[href="#job/${jobId}"]`);
  await app.ready("job");
  seen.summary = await page.textContent("#job-summary");
  await app.shot("no-wallet-job");
});
