// The DAO from a wallet: delegate votes, vote on two certifications, close the votes, approve the first as a
// committee member and reject the second with a published reason, then propose a new DPG Standard version, vote,
// queue and execute it, and read the list of standard versions. Time travel goes straight to the test chain
// (anvil) between steps. A screenshot after each step; what the page showed as JSON on stdout.
//   node e2e/governance.mjs APP_URL RPC_URL ACCOUNT OUT_DIR STANDARD_JSON APPROVE_ASSET_ID REJECT_ASSET_ID
import { readFileSync } from "node:fs";
import { args, rpcRequest, scenario, travel } from "./harness.mjs";

const { appUrl, rpcUrl, account, outDir, standardFile, assetId, rejectId } =
  args(["appUrl", "rpcUrl", "account", "outDir", "standardFile", "assetId", "rejectId"]);
await scenario({ appUrl, rpcUrl, account, outDir }, async (app, seen) => {
  const { page } = app;
  // Waits for the action just clicked to be mined; one the page refused or saw reverted fails at once with what the
  // page said (the click set the status to "working", so an earlier refusal is not mistaken for this one).
  const mined = async (label) => {
    const outcome = await page.waitForFunction((text) => {
      const status = document.getElementById("governance-status");
      const state = status?.dataset.state;
      if (state === "mined" && status.textContent.startsWith(text)) return { ok: true };
      if (state === "refused" || state === "reverted") return { ok: false, said: status.textContent };
      return null;
    }, label, { timeout: 240_000 }); // generous: a busy machine mines and renders slowly
    const { ok, said } = await outcome.jsonValue();
    if (!ok) throw new Error(`${label}: the page said "${said}"`);
    await page.waitForSelector('main[data-page="governance"][data-ready="true"]');
  };
  const revisit = async () => {
    await app.visit("catalog");
    await app.visit("governance");
  };
  await app.open("governance");
  await app.ready("governance");
  await page.click("#delegate");
  await mined("Delegate");
  seen.votes = await page.textContent("#my-votes");

  // certification: vote, wait out the voting period, close, approve one and reject the other as a committee member
  seen.queued = await page.textContent("#certification-queue");
  for (const id of [assetId, rejectId]) {
    await page.click(`.vote-certify[data-asset="${id}"]`);
    await mined(`Vote to certify (asset ${id})`);
  }
  await app.shot("certification-voted");
  await travel(rpcUrl, 3 * 86_400 + 1);
  await revisit();
  for (const id of [assetId, rejectId]) {
    await page.click(`.close-vote[data-asset="${id}"]`);
    await mined(`Close the vote (asset ${id})`);
  }
  seen.afterClose = await page.textContent(`.stage[data-asset="${assetId}"]`);
  await page.click(`.approve[data-asset="${assetId}"]`);
  await mined(`Approve (asset ${assetId})`);
  await page.click(`.reject[data-asset="${rejectId}"]`);  // without a reason: refused on the page
  await page.waitForFunction(() => document.getElementById("governance-status")?.dataset.state === "refused");
  seen.rejectWithoutReason = await page.textContent("#governance-status");
  await page.fill(`.reason[data-asset="${rejectId}"]`, "The privacy statement does not cover the consent of the people in the data.");
  await page.click(`.reject[data-asset="${rejectId}"]`);
  await mined(`Reject (asset ${rejectId})`);
  seen.queueAfter = await page.textContent("main");
  await app.shot("certification-decided");

  // a new standard through the Governor and the Timelock
  await page.fill('#propose-standard textarea[name="document"]', readFileSync(standardFile, "utf8"));
  await page.fill('#propose-standard input[name="description"]', "DPG Standard v2 from the web app");
  await page.click('#propose-standard button[type="submit"]');
  await mined("Propose");
  await travel(rpcUrl, 86_400 + 1); // the voting delay: a day (the token's clock is in seconds)
  await revisit();
  await page.locator(".vote-for").first().click();
  await mined("Vote for");
  await app.shot("proposal-voted");
  await travel(rpcUrl, 7 * 86_400 + 1); // the voting period: a week
  await revisit();
  await page.locator(".queue").first().click();
  await mined("Queue");
  await travel(rpcUrl, 2 * 86_400 + 1);
  await revisit();
  await page.locator(".execute").first().click();
  await mined("Execute");
  seen.standard = await page.textContent("#standard");
  seen.proposals = await page.textContent("#proposals");
  seen.versions = await page.textContent("#standard-versions");
  seen.versionLink = await page.getAttribute('#standard-versions a.standard-document', "href");
  await app.shot("governance");
});
