// The dashboard in a real browser: Debian's Chromium driven by
// playwright-core, against a real `ferrostack allinone --hypervisor fake`
// started here on free loopback ports (port 0 everywhere) with a temporary
// data dir. One flow, as a person would click it: the admin sets up a
// project, its quota and a user; the user launches an instance, sees it
// become ACTIVE without reloading, deletes it, logs out.
//
// Screenshots of the main pages go to tests/browser/artifacts/ (gitignored),
// with the server's log. Only the process started here is ever killed.
//
//   FERROSTACK_BIN=target/debug/ferrostack npm test
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "../..");
const ARTIFACTS = path.join(HERE, "artifacts");
const BIN = path.resolve(ROOT, process.env.FERROSTACK_BIN || "target/debug/ferrostack");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const ADMIN_PASSWORD = "browser-admin-secret";
const USER_PASSWORD = "browser-user-secret";
const START_DEADLINE_MS = 60_000;

let server; // { proc, dashboard, tmp }
let context;
let page;

function startStack() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fs-browser-"));
  const args = ["allinone", "--data-dir", path.join(tmp, "data"), "--bind", "127.0.0.1",
    "--public-host", "127.0.0.1", "--hypervisor", "fake", "--host-name", "browser-host",
    "--instances-dir", path.join(tmp, "vms"), "--admin-password", ADMIN_PASSWORD];
  for (const l of ["identity", "compute", "image", "volume", "network", "placement", "host-api", "dashboard"]) {
    args.push(`--${l}-port`, "0");
  }
  const log = fs.createWriteStream(path.join(ARTIFACTS, "ferrostack.log"));
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

async function stopStack() {
  if (!server) return;
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

const shot = (name) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
const go = (p) => page.goto(server.dashboard + p);
const flash = () => page.locator(".flash").first().innerText();

async function login(user, password) {
  await go("/login");
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill(password);
  assert.equal(await page.getByLabel("Domain").inputValue(), "Default");
  await page.getByRole("button", { name: "Log in" }).click();
}

async function logout() {
  await page.getByRole("button", { name: "Log out" }).click();
  await page.waitForURL(/\/login$/);
}

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  assert.ok(fs.existsSync(BIN), `${BIN} does not exist: build it with cargo build -p ferrostack`);
  server = await startStack();
  const userData = fs.mkdtempSync(path.join(os.tmpdir(), "fs-chromium-"));
  context = await chromium.launchPersistentContext(userData, {
    executablePath: CHROMIUM,
    headless: true,
    acceptDownloads: true,
    viewport: { width: 1280, height: 800 },
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(15_000);
});

after(async () => {
  if (context) await context.close();
  await stopStack();
});

test("a wrong password shows a clear error", async () => {
  await login("admin", "not-the-password");
  assert.match(await flash(), /Wrong user name, password or domain/);
  await shot("login");
});

test("a POST without the CSRF token is refused", async () => {
  await login("admin", ADMIN_PASSWORD);
  await page.waitForURL(server.dashboard + "/");
  const r = await context.request.post(server.dashboard + "/identity/projects", {
    form: { name: "forged" }, maxRedirects: 0,
  });
  assert.equal(r.status(), 403);
  const wrong = await context.request.post(server.dashboard + "/identity/projects", {
    form: { name: "forged", csrf: "0".repeat(64) }, maxRedirects: 0,
  });
  assert.equal(wrong.status(), 403);
});

test("the admin sets up a flavor, an image, a project with 30 vCPUs and a member", async () => {
  await go("/");
  await shot("overview-admin");

  await go("/flavors");
  await page.getByLabel("Name").fill("m1.tiny");
  await page.getByLabel("RAM (MiB)").fill("256");
  await page.getByRole("button", { name: "Create flavor" }).click();
  assert.match(await flash(), /Flavor m1.tiny was created/);
  await shot("flavors");

  await go("/images");
  const file = path.join(server.tmp, "disk.raw");
  fs.writeFileSync(file, Buffer.alloc(2 * 1024 * 1024));
  await page.getByLabel("Name", { exact: true }).fill("tiny-raw");
  await page.getByLabel("Disk format").selectOption("raw");
  await page.getByLabel("Visibility").selectOption("public");
  await page.getByLabel("File").setInputFiles(file);
  await page.getByRole("button", { name: "Upload" }).click();
  await page.locator("#images tr", { hasText: "tiny-raw" }).getByText("active").waitFor();
  await shot("images");

  await go("/identity/projects");
  await page.getByLabel("Name", { exact: true }).last().fill("dash-proj");
  await page.getByLabel("Description").last().fill("made in the browser");
  await page.getByRole("button", { name: "Create project" }).click();
  assert.match(await flash(), /Project dash-proj was created/);
  await shot("projects");

  await page.locator('tr[data-project="dash-proj"]').getByRole("link", { name: "Quotas" }).click();
  await page.getByLabel("vCPUs").fill("30");
  await page.getByRole("button", { name: "Save quotas" }).click();
  assert.match(await flash(), /quotas were saved/);
  // The page reads the quota back from the compute API.
  assert.equal(await page.getByLabel("vCPUs").inputValue(), "30");
  await shot("quotas");

  await go("/identity/users");
  await page.getByLabel("Name", { exact: true }).last().fill("dash-user");
  await page.getByLabel("Password", { exact: true }).fill(USER_PASSWORD);
  await page.getByLabel("Primary project").selectOption({ label: "dash-proj" });
  await page.getByLabel("Role on that project").selectOption({ label: "member" });
  await page.getByRole("button", { name: "Create user" }).click();
  assert.match(await flash(), /User dash-user was created with a role/);
  await shot("users");

  await go("/identity/roles");
  await page.locator("#assignments tr", { hasText: "dash-user" }).getByText("member").waitFor();
  await shot("roles");
  await logout();
});

test("the member sees only their project, launches and deletes an instance", async () => {
  await login("dash-user", USER_PASSWORD);
  await page.waitForURL(server.dashboard + "/");
  const projects = await page.getByLabel("Project").locator("option").allInnerTexts();
  assert.deepEqual(projects, ["dash-proj"]);
  assert.match(await page.locator(".usage", { hasText: "vCPUs" }).innerText(), /0 used of 30/);
  assert.equal(await page.getByRole("link", { name: "Projects" }).count(), 0, "no admin pages");
  await shot("overview");

  await go("/keypairs");
  await page.getByLabel("Name").first().fill("k1");
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Create and download" }).click(),
  ]);
  assert.equal(download.suggestedFilename(), "k1.pem");
  const key = fs.readFileSync(await download.path(), "utf8");
  assert.match(key, /BEGIN .*PRIVATE KEY/);
  await go("/keypairs");
  await page.locator("#keypairs").getByText("k1").waitFor();
  await shot("keypairs");

  await go("/instances");
  await page.getByRole("button", { name: "Launch instance" }).click();
  const dialog = page.getByRole("dialog", { name: "Launch instance" });
  await dialog.getByLabel("Name").fill("vm1");
  await dialog.getByLabel("Image").selectOption({ label: "tiny-raw" });
  await dialog.getByLabel("Flavor").selectOption({ index: 0 });
  await dialog.getByLabel("Key pair").selectOption("k1");
  assert.match(await dialog.innerText(), /Network: none/);
  await shot("launch-dialog");
  await dialog.getByRole("button", { name: "Launch" }).click();
  await page.waitForURL(/\/instances$/);
  assert.match(await flash(), /vm1 is being launched/);

  // The status must turn ACTIVE by polling, with no reload of the page.
  await page.evaluate(() => { window.__sameDocument = true; });
  const status = page.locator("#instances tr", { hasText: "vm1" }).locator(".status");
  await status.getByText("ACTIVE", { exact: true }).waitFor({ timeout: 60_000 });
  assert.equal(await page.evaluate(() => window.__sameDocument), true, "the page was reloaded");
  await shot("instances");

  await page.getByRole("link", { name: "vm1" }).click();
  await page.getByRole("heading", { name: "Console log" }).waitFor();
  await shot("instance-detail");

  // Actions from the detail page: stop, then start again.
  const detailUrl = page.url();
  const waitStatus = async (want) => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const cell = page.locator("dl.details .status");
      const text = await cell.innerText();
      if ((await cell.getAttribute("data-status")) === want && !text.includes("(")) return;
      if (Date.now() > deadline) throw new Error(`the status stayed ${text}, wanted ${want}`);
      await page.waitForTimeout(500);
      await page.goto(detailUrl);
    }
  };
  await page.getByRole("button", { name: "Stop", exact: true }).click();
  assert.match(await flash(), /Stopping the instance/);
  await waitStatus("SHUTOFF");
  await page.getByRole("button", { name: "Start", exact: true }).click();
  await waitStatus("ACTIVE");

  await go("/instances");
  page.once("dialog", (d) => d.accept());
  await page.locator("#instances tr", { hasText: "vm1" }).getByRole("button", { name: "Delete" }).click();
  assert.match(await flash(), /being deleted/);
  await page.locator("#instances tr", { hasText: "vm1" }).waitFor({ state: "detached", timeout: 60_000 });

  await page.setViewportSize({ width: 390, height: 844 });
  await go("/");
  await shot("overview-phone");
  await page.setViewportSize({ width: 1280, height: 800 });
  await logout();
  // The session is gone: pages lead back to the login form.
  await go("/instances");
  assert.match(page.url(), /\/login$/);
});
