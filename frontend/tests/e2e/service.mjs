// Starts the real service the way ./start.sh does (API + worker on the embedded default) on
// a free port with a temporary data directory, and a headless Debian Chromium.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const repo = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--no-first-run",
  "--disable-dev-shm-usage",
];

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(url, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`start.sh exited with ${child.exitCode}`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

/** ./start.sh on its own port, data directory and SQLite file; `stop()` ends it all. */
export async function startService({
  env = {},
  dataDir = mkdtempSync(join(tmpdir(), "triage-e2e-")),
} = {}) {
  const port = await freePort();
  const log = [];
  const child = spawn(join(repo, "start.sh"), [], {
    cwd: repo,
    detached: true,
    env: {
      ...process.env,
      HOST: "127.0.0.1",
      PORT: String(port),
      DATA_DIR: dataDir,
      DATABASE_URL: `sqlite:///${join(dataDir, "triage.db")}`,
      REDIS_URL: "",
      PROMETHEUS_MULTIPROC_DIR: join(dataDir, "metrics"),
      UVICORN_LOG_LEVEL: "warning",
      LOG_LEVEL: "WARNING",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  for (const stream of [child.stdout, child.stderr])
    stream.on("data", (chunk) => log.push(chunk.toString()));
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`${baseUrl}/health/ready`, child, 180_000);
    await waitFor(`${baseUrl}/app/`, child, 10_000);
  } catch (error) {
    process.stderr.write(log.join(""));
    stopGroup(child);
    throw error;
  }
  return {
    baseUrl,
    dataDir,
    log,
    async stop() {
      stopGroup(child);
      await new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        const timer = setTimeout(() => {
          try {
            process.kill(-child.pid, "SIGKILL");
          } catch {
            // already gone
          }
          resolve();
        }, 10_000);
        child.on("exit", () => {
          clearTimeout(timer);
          resolve();
        });
      });
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function stopGroup(child) {
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    // already gone
  }
}

/** Chromium with a fresh profile, 1280 px wide (the smallest laptop we support). */
export async function launchBrowser() {
  const profile = mkdtempSync(join(tmpdir(), "triage-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
