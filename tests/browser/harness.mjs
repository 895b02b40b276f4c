// What every browser test file shares: a real `ferrostack allinone
// --hypervisor fake` on free loopback ports (port 0 everywhere) with a
// temporary data dir, one Chromium (Debian's, driven by playwright-core),
// and the helpers a test clicks with. Each *.test.mjs calls useStack() once:
// its own isolated cloud, started before its tests and stopped after.
//
// Screenshots go to tests/browser/artifacts/ (gitignored), with the
// server's log per file. Only the process started here is ever killed.
import { before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../..");
export const ARTIFACTS = path.join(HERE, "artifacts");
const BIN = path.resolve(ROOT, process.env.FERROSTACK_BIN || "target/debug/ferrostack");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
export const ADMIN_PASSWORD = "browser-admin-secret";
export const USER_PASSWORD = "browser-user-secret";
const START_DEADLINE_MS = 60_000;
// How long an instance may take to reach a state on the fake hypervisor.
export const STATE_DEADLINE_MS = 60_000;

function startStack(name) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fs-browser-"));
  const args = ["allinone", "--data-dir", path.join(tmp, "data"), "--bind", "127.0.0.1",
    "--public-host", "127.0.0.1", "--hypervisor", "fake", "--host-name", "browser-host",
    "--instances-dir", path.join(tmp, "vms"), "--admin-password", ADMIN_PASSWORD];
  for (const l of ["identity", "compute", "image", "volume", "network", "placement", "host-api", "dashboard"]) {
    args.push(`--${l}-port`, "0");
  }
  const log = fs.createWriteStream(path.join(ARTIFACTS, `ferrostack-${name}.log`));
  const proc = spawn(BIN, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  proc.stderr.pipe(log);
  return new Promise((resolve, reject) => {
    let out = "";
    let dashboard = null;
    const timer = setTimeout(() => reject(new Error(`no "ferrostack ready" within ${START_DEADLINE_MS} ms:\n${out}`)), START_DEADLINE_MS);
    proc.on("exit", (code) => reject(new Error(`ferrostack exited (${code}) before it was ready:\n${out}`)));
    proc.stdout.on("data", (chunk) => {
      log.write(chunk);
      out += chunk.toString();
      const m = out.match(/^Dashboard: (https?:\/\/\S+)/m);
      if (m) dashboard = m[1];
      if (/^ferrostack ready/m.test(out)) {
        clearTimeout(timer);
        if (!dashboard) reject(new Error(`no dashboard URL in the start-up output:\n${out}`));
        else resolve({ proc, dashboard, tmp });
      }
    });
  });
}

async function stopStack(server) {
  const { proc } = server;
  if (proc.exitCode === null) {
    const exited = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 20_000);
    await exited;
    clearTimeout(timer);
  }
  fs.rmSync(server.tmp, { recursive: true, force: true });
}

// Starts a cloud and a browser for the calling test file; the returned
// object is filled in before the first test runs.
export function useStack(name) {
  const t = { server: null, context: null, page: null, userData: null };
  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    assert.ok(fs.existsSync(BIN), `${BIN} does not exist: build it with cargo build --bin ferrostack`);
    t.server = await startStack(name);
    t.userData = fs.mkdtempSync(path.join(os.tmpdir(), "fs-chromium-"));
    t.context = await chromium.launchPersistentContext(t.userData, {
      executablePath: CHROMIUM,
      headless: true,
      acceptDownloads: true,
      viewport: { width: 1280, height: 800 },
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
    t.page = t.context.pages()[0] || (await t.context.newPage());
    t.page.setDefaultTimeout(15_000);
  });
  after(async () => {
    if (t.context) await t.context.close();
    if (t.server) await stopStack(t.server);
    if (t.userData) fs.rmSync(t.userData, { recursive: true, force: true });
  });
  const page = () => t.page;
  return Object.assign(t, {
    url: (p) => t.server.dashboard + p,
    go: (p) => page().goto(t.server.dashboard + p),
    shot: (file) => page().screenshot({ path: path.join(ARTIFACTS, `${file}.png`), fullPage: true }),
    flash: () => page().locator(".flash").first().innerText(),
    // Waits for the message a form's redirect shows (matching `re`).
    expectFlash: (re) => page().locator(".flash", { hasText: re }).waitFor(),
    async login(user, password) {
      await t.go("/login");
      await page().getByLabel("User name").fill(user);
      await page().getByLabel("Password").fill(password);
      assert.equal(await page().getByLabel("Domain").inputValue(), "Default");
      await page().getByRole("button", { name: "Log in" }).click();
    },
    async loginOk(user, password) {
      await t.login(user, password);
      await page().waitForURL(t.server.dashboard + "/");
    },
    async logout() {
      await page().getByRole("button", { name: "Log out" }).click();
      await page().waitForURL(/\/login$/);
    },
    // Accepts the confirmation dialog the next click opens.
    confirmNext() {
      page().once("dialog", (d) => d.accept());
    },
    // Marks the document; sameDocument() is then false after any reload.
    async markDocument() {
      await page().evaluate(() => { window.__sameDocument = true; });
    },
    sameDocument: () => page().evaluate(() => window.__sameDocument === true),
  });
}

// The admin's usual setup: a project with a member who may launch.
export async function createProjectWithMember(t, project, user) {
  const page = t.page;
  await t.go("/identity/projects");
  await page.locator("#project-name").fill(project);
  await page.getByRole("button", { name: "Create project" }).click();
  await t.expectFlash(new RegExp(`Project ${project} was created`));
  await t.go("/identity/users");
  await page.locator("#user-name").fill(user);
  await page.getByLabel("Password", { exact: true }).fill(USER_PASSWORD);
  await page.getByLabel("Primary project").selectOption({ label: project });
  await page.getByLabel("Role on that project").selectOption({ label: "member" });
  await page.getByRole("button", { name: "Create user" }).click();
  await t.expectFlash(new RegExp(`User ${user} was created with a role`));
}

// Creates a flavor on the Flavors page (admin).
export async function createFlavor(t, name, ram) {
  await t.go("/flavors");
  await t.page.locator("#flavor-name").fill(name);
  await t.page.getByLabel("RAM (MiB)").fill(String(ram));
  await t.page.getByRole("button", { name: "Create flavor" }).click();
  await t.expectFlash(new RegExp(`Flavor ${name.replace(".", "\\.")} was created`));
}

// Uploads a small raw image and waits for it to be active.
export async function uploadImage(t, name, visibility = "public") {
  await t.go("/images");
  const file = path.join(t.server.tmp, `${name}.raw`);
  fs.writeFileSync(file, Buffer.alloc(2 * 1024 * 1024));
  await t.page.getByLabel("Name", { exact: true }).fill(name);
  await t.page.getByLabel("Disk format").selectOption("raw");
  await t.page.getByLabel("Visibility").selectOption(visibility);
  await t.page.getByLabel("File").setInputFiles(file);
  await t.page.getByRole("button", { name: "Upload" }).click();
  await t.page.locator("#images tr", { hasText: name }).getByText("active").waitFor();
}
