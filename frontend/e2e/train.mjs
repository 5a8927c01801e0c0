// Post a job from the wallet and follow it until it finished and every provider was paid: the job page's rounds,
// update hashes, loss/accuracy chart and payments, as the daemons train. A screenshot of the finished job.
//   node e2e/train.mjs APP_URL RPC_URL ACCOUNT OUT_DIR COORDINATOR
import { args, scenario } from "./harness.mjs";

const { appUrl, rpcUrl, account, outDir, coordinator } = args(["appUrl", "rpcUrl", "account", "outDir", "coordinator"]);
await scenario({ appUrl, rpcUrl, account, outDir }, async (app, seen) => {
  const { page } = app;
  await app.open("jobs");
  await app.ready("jobs");
  await page.fill('input[name="name"]', "Digits, trained from the browser");
  await page.fill('input[name="rounds"]', "2");
  await page.fill('input[name="min"]', "2");
  await page.fill('input[name="max"]', "2");
  await page.fill('input[name="reward"]', "1");
  await page.selectOption('select[name="coordinator"]', coordinator);
  await page.click('#post-job button[type="submit"]');
  await page.waitForSelector("#post-result[data-job-id]", { timeout: 180_000 });
  seen.jobId = Number(await page.getAttribute("#post-result", "data-job-id"));
  await page.click("#follow-job");
  await page.waitForSelector('main[data-page="job"][data-ready="true"]');
  await app.shot("job-running");
  await page.waitForFunction(() => document.querySelector("#job-summary")?.dataset.state === "finished"
    && document.querySelectorAll("#payments tbody tr").length >= 2
    && ![...document.querySelectorAll("#rounds tbody td")].some((td) => td.textContent === "evaluating…"),
    null, { timeout: 420_000, polling: 1000 });
  seen.summary = await page.textContent("#job-summary");
  seen.rounds = await page.textContent("#rounds");
  seen.updates = await page.locator("#updates tbody tr").count();
  seen.payments = await page.textContent("#payments");
  seen.curvePoints = await page.locator("#curve circle").count();
  await page.click("#verify");
  await page.waitForSelector("#audit[data-ok]", { timeout: 120_000 });
  seen.audit = await page.textContent("#audit");
  const model = await fetch(await page.getAttribute("#download-model", "href"));
  seen.model = { status: model.status, sha256: model.headers.get("x-opendpg-sha256"),
                 round: model.headers.get("x-opendpg-round"), bytes: (await model.arrayBuffer()).byteLength };
  await app.shot("job-finished");
});
