// Dashboard performance in Chromium with 10,000 processed tickets on the embedded default.
//   node bench/dashboard.mjs [--tickets 10000] [--runs 5]
// Prints name=value lines: js_gzip_kb (all JavaScript the dashboard loads, gzip -9, charts
// included) and dashboard_ready_ms (navigation start → figures, charts and recent tickets
// drawn; median of cold-cache loads). Targets: js_gzip_kb <= 250, dashboard_ready_ms <= 1000.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS, repo, startService } from "../tests/e2e/service.mjs";

const { values } = parseArgs({
  options: {
    tickets: { type: "string", default: "10000" },
    runs: { type: "string", default: "5" },
    screenshot: { type: "string" }, // save the first load's dashboard here (PNG)
  },
});
const tickets = Number(values.tickets);
const runs = Number(values.runs);

const dataDir = mkdtempSync(join(tmpdir(), "triage-bench-"));
const databaseUrl = `sqlite:///${join(dataDir, "triage.db")}`;
const venvPython = join(repo, ".venv", "bin", "python");
const python = existsSync(venvPython) ? venvPython : "python3";
console.error(`seeding ${tickets} processed tickets`);
const seeded = execFileSync(
  python,
  [join(repo, "frontend", "bench", "seed_tickets.py"), "--tickets", String(tickets)],
  {
    cwd: join(repo, "backend"),
    env: { ...process.env, DATABASE_URL: databaseUrl },
    encoding: "utf8",
  },
);
const account = Object.fromEntries(
  seeded
    .trim()
    .split("\n")
    .map((line) => line.split("=")),
);

const service = await startService({ dataDir, env: { DATABASE_URL: databaseUrl } });
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: CHROMIUM_ARGS,
});
try {
  const login = await fetch(`${service.baseUrl}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ username: account.email, password: account.password }),
  });
  const token = await login.json();
  const session = { token: token.access_token, expiresAt: Date.now() + token.expires_in * 1000 };

  const timings = [];
  let jsGzipBytes = 0;
  for (let run = 0; run < runs; run++) {
    // A fresh context per load: nothing cached, like a first visit.
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.addInitScript((value) => {
      localStorage.setItem("ticket-triage.session", value);
      window.__dashboardReady = new Promise((resolve) => {
        const ready = () => {
          const root = document.querySelector('[data-ready="dashboard"]');
          return (
            root !== null &&
            root.querySelectorAll("figure svg.recharts-surface").length >= 4 &&
            root.querySelectorAll("tbody tr").length > 0
          );
        };
        const observer = new MutationObserver(() => {
          if (ready()) {
            observer.disconnect();
            resolve(performance.now());
          }
        });
        observer.observe(document, { subtree: true, childList: true, attributes: true });
      });
    }, JSON.stringify(session));
    const page = await context.newPage();
    const scripts = [];
    page.on("response", (response) => {
      if (response.request().resourceType() === "script") scripts.push(response);
    });
    await page.goto(`${service.baseUrl}/app/`);
    const readyMs = await page.evaluate(() => window.__dashboardReady);
    timings.push(readyMs);
    if (process.env.BENCH_VERBOSE) {
      const entries = await page.evaluate(() =>
        performance
          .getEntriesByType("resource")
          .map(
            (e) =>
              `${e.name.replace(location.origin, "").slice(0, 50)} ${Math.round(e.startTime)}-${Math.round(e.responseEnd)}`,
          ),
      );
      console.error(`run ${run}: ready ${Math.round(readyMs)} ms\n  ${entries.join("\n  ")}`);
    }
    if (run === 0 && values.screenshot) await page.screenshot({ path: values.screenshot });
    if (run === 0) {
      for (const response of scripts)
        jsGzipBytes += gzipSync(await response.body(), { level: 9 }).length;
      console.log(`js_files=${scripts.length}`);
      console.log(`tickets=${tickets}`);
    }
    await context.close();
  }
  const sorted = [...timings].sort((a, b) => a - b);
  console.log(`js_gzip_kb=${(jsGzipBytes / 1024).toFixed(1)}`);
  console.log(`dashboard_ready_ms=${Math.round(sorted[Math.floor(sorted.length / 2)])}`);
  console.log(`dashboard_ready_ms_runs=${timings.map((t) => Math.round(t)).join(",")}`);
} finally {
  await browser.close();
  await service.stop();
}
