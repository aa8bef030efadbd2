// End to end, in Chromium against the real service: register → process sandbox tickets from
// the empty state → the charts show them → open a ticket → give feedback → accuracy appears
// → run a batch and watch it finish → test the Zendesk connection → export CSV.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { launchBrowser, startService } from "./service.mjs";

const screenshots =
  process.env.SCREENSHOT_DIR ?? mkdtempSync(join(tmpdir(), "triage-screenshots-"));
mkdirSync(screenshots, { recursive: true });

let service;
let browser;
let page;
const consoleErrors = [];

before(async () => {
  service = await startService();
  browser = await launchBrowser();
  page = await browser.context.newPage();
  page.setDefaultTimeout(30_000);
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("pageerror", (error) => consoleErrors.push(String(error)));
  console.log(`# service at ${service.baseUrl}; screenshots in ${screenshots}`);
});

after(async () => {
  await browser?.close();
  await service?.stop();
});

const shot = (name) => page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });

test("a support lead goes from an empty account to charts, feedback, a batch and a CSV", async () => {
  const app = `${service.baseUrl}/app`;

  // Register: the account is created, signed in and lands on the empty dashboard.
  await page.goto(`${app}/register`);
  await page.getByLabel("Email").fill("lead@example.com");
  await page.getByLabel(/^Name/).fill("Support Lead");
  await page.getByLabel(/^Password/).fill("correct-horse-battery");
  await shot("01-register");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.getByRole("heading", { name: "No processed tickets yet" }).waitFor();
  assert.equal(new URL(page.url()).pathname, "/app");
  await shot("02-dashboard-empty");

  // The empty state's button processes the first sandbox tickets; the dashboard fills in.
  await page.getByRole("button", { name: /Process the first 25 sandbox tickets/ }).click();
  await page.locator('[data-ready="dashboard"]').waitFor({ timeout: 90_000 });
  const cards = page.getByRole("region", { name: "Key figures" });
  await assert.doesNotReject(cards.getByText("25", { exact: true }).first().waitFor());
  const pie = page.getByRole("figure", { name: "Tickets by category" });
  await pie.locator("svg").first().waitFor();
  const categories = await pie.locator("figcaption").innerText();
  const counted = [...categories.matchAll(/ (\d+) \(/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  assert.equal(counted, 25, `category summary: ${categories}`);
  await page.getByRole("figure", { name: "Tickets per day" }).locator("svg").first().waitFor();
  await page.getByRole("figure", { name: "Tickets by urgency" }).locator("svg").first().waitFor();
  await page.getByRole("figure", { name: "Sentiment over time" }).locator("svg").first().waitFor();
  await shot("03-dashboard");

  // Open a recent ticket and correct its category: accuracy appears on the dashboard.
  await page
    .getByRole("link", { name: /^#\d+$/ })
    .first()
    .click();
  await page.getByRole("heading", { name: "Analysis" }).waitFor();
  await page.getByRole("heading", { name: "Processing log" }).waitFor();
  assert.match(await page.locator("table").last().innerText(), /Analy[sz]e/i);
  const group = page.getByRole("group", { name: "Correct Category" });
  const predicted = await group.getByRole("button", { name: /\(predicted\)/ }).innerText();
  const other = predicted.startsWith("bug") ? "billing" : "bug";
  await group.getByRole("button", { name: other, exact: true }).click();
  await page.getByText("Thanks: feedback saved.").waitFor();
  assert.equal(
    await group.getByRole("button", { name: other, exact: true }).getAttribute("aria-pressed"),
    "true",
  );
  await shot("04-ticket-detail");
  await page.getByRole("link", { name: "Dashboard" }).click();
  const accuracy = page.locator(".stat", { hasText: "Accuracy from feedback" });
  await accuracy.getByText(/1 rated tickets/).waitFor();
  assert.match(await accuracy.innerText(), /\d+%/);

  // A batch from a range of ids, followed live until it finishes.
  await page.getByRole("link", { name: "Jobs" }).click();
  await page.getByLabel("or from id").fill("26");
  await page.getByLabel("to id").fill("40");
  await page.getByRole("button", { name: "Process tickets" }).click();
  await page.waitForURL(/\/app\/jobs\/[0-9a-f-]+$/);
  await page.getByText(/15 done · 0 failed · 15 total/).waitFor({ timeout: 90_000 });
  await page.locator("#job-title ~ .job-progress strong", { hasText: "Succeeded" }).waitFor();
  assert.equal(await page.locator("tbody tr").count(), 15);
  await shot("05-jobs");

  // Settings: the sandbox's Zendesk answers the connection test.
  await page.getByRole("link", { name: "Settings" }).click();
  await page.getByRole("button", { name: "Test Zendesk connection" }).click();
  await page.getByText(/Connected in \d+/).waitFor();
  await shot("06-settings");

  // Tickets: filters live in the URL.
  await page.getByRole("link", { name: "Tickets" }).click();
  await page.getByRole("cell").first().waitFor();
  await page.getByLabel("Urgency").selectOption("high");
  await page.waitForURL(/urgency=high/);
  await page.getByRole("button", { name: /^Ticket/ }).click();
  await page.waitForURL(/sort=-zendesk_ticket_id/);
  await shot("07-tickets");

  // Analytics: cost report, then the CSV of the range.
  await page.getByRole("link", { name: "Analytics" }).click();
  await page.getByRole("heading", { name: "Cost by path and savings" }).waitFor();
  await page.getByRole("figure", { name: "Tickets per day" }).locator("svg").first().waitFor();
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Export CSV" }).click(),
  ]);
  const csv = readFileSync(await download.path(), "utf8")
    .trim()
    .split("\n");
  assert.ok(csv[0].includes("category"), `CSV header: ${csv[0]}`);
  assert.equal(csv.length - 1, 40, "one row per analysed ticket");
  await shot("08-analytics");

  // API docs work offline: Swagger UI from local files.
  await page.goto(`${service.baseUrl}/docs`);
  await page.getByText("Ticket Triage").first().waitFor();
  await page.locator(".opblock").first().waitFor();
  await shot("09-docs");

  assert.deepEqual(consoleErrors, [], "no console errors");
});

test("an expired token sends the user back to login with a message", async () => {
  await page.goto(`${service.baseUrl}/app/tickets`);
  await page.evaluate(() => {
    const key = "ticket-triage.session";
    const session = JSON.parse(localStorage.getItem(key));
    localStorage.setItem(key, JSON.stringify({ ...session, expiresAt: Date.now() - 1 }));
  });
  await page.goto(`${service.baseUrl}/app/tickets`);
  await page.getByText("Your session expired. Sign in again.").waitFor();
  assert.equal(new URL(page.url()).pathname, "/app/login");
  await shot("10-login-expired");
});
