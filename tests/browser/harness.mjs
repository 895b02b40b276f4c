// What every browser test file shares: a real `ferrostack allinone
// --hypervisor fake` on free loopback ports (port 0 everywhere) with a
// temporary data dir, one Chromium (Debian's, driven by playwright-core),
// and the helpers a test clicks with. Each *.test.mjs calls useStack() once:
// its own isolated cloud, started before its tests and stopped after.
//
// useStack(name, { guests: true }) starts real QEMU guests on the real
// network data plane instead, the way tests/e2e/test_network_guests.py
// does: the whole cloud runs in a fresh network namespace (`nsenter
// --net`), and so does Chromium (executablePath is a wrapper that enters
// it; playwright talks to it over a pipe), since the dashboard listens on
// that namespace's loopback. Node itself cannot reach the stack then, so
// such a test goes through the browser only.
//
// Unlike the e2e fixture, the cloud also gets a mount namespace of its own
// with an empty tmpfs on /run/netns, so the `qdhcp-*` namespaces its agent
// adds are named there only (see stackNetns()). The reason: an agent lists
// every `qdhcp-*` name in /run/netns, reports the ones it does not know,
// and its controller has it tear them down (tombstones), so on a machine
// where other clouds run (parallel test runs) each deleted the other's
// DHCP namespaces, and a guest booting meanwhile got no lease. At the end
// the guests and the agent's dnsmasq processes are killed (by their
// pidfiles, as the e2e fixture does), which frees those namespaces with
// the mount namespace; any `qdhcp-<network>` left in /run/netns is
// deleted too, and the network namespace. guestSkipReason() says why
// real guests cannot run here.
//
// Screenshots go to tests/browser/artifacts/ (gitignored), with the
// server's log per file. Only the processes started here are ever killed.
import { before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
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
// The test guest (guest-image/README.md), built here if missing, as the
// e2e `guest_image` fixture does.
export const GUEST_IMAGE = path.resolve(ROOT, process.env.FERROSTACK_GUEST_IMAGE
  || "target/guest-image/ferrostack-guest.qcow2");
// Where agents keep dnsmasq's files: network-<hash of the data dir>/dhcp/<network>
// (crates/ferrostack/src/host_network.rs).
const DHCP_RUN_DIR = "/run/ferrostack";

const which = (program) => (process.env.PATH || "").split(":")
  .some((dir) => dir && fs.existsSync(path.join(dir, program)));

// Why real guests cannot run here, or null when they can.
export function guestSkipReason() {
  if (process.getuid() !== 0) return "real guests need root (namespaces, bridges, taps)";
  for (const program of ["ip", "nsenter", "unshare", "mount", "nft", "dnsmasq", "qemu-system-x86_64"]) {
    if (!which(program)) return `${program} is not installed (real guests and their data plane need it)`;
  }
  if (!fs.existsSync("/dev/net/tun")) return "there is no /dev/net/tun (guests' taps need it)";
  return null;
}

// `argv` run inside network namespace `ns` (none: as it is), with a
// private mount namespace whose /run/netns is empty (see the top).
const inNetns = (ns, argv) => (ns
  ? ["nsenter", `--net=/run/netns/${ns}`, "unshare", "--mount", "--propagation", "private",
    "sh", "-c", 'mount -t tmpfs -o mode=0755 ferrostack-netns /run/netns && exec "$@"', "sh", ...argv]
  : argv);

function startStack(name, netns) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fs-browser-"));
  const args = ["allinone", "--data-dir", path.join(tmp, "data"), "--bind", "127.0.0.1",
    "--public-host", "127.0.0.1", "--hypervisor", netns ? "qemu" : "fake", "--host-name", "browser-host",
    "--instances-dir", path.join(tmp, "vms"), "--admin-password", ADMIN_PASSWORD];
  for (const l of ["identity", "compute", "image", "volume", "network", "placement", "host-api", "dashboard"]) {
    args.push(`--${l}-port`, "0");
  }
  const logPath = path.join(ARTIFACTS, `ferrostack-${name}.log`);
  const log = fs.createWriteStream(logPath);
  // nsenter, unshare and sh exec the server, so the PID is the server's own.
  const [cmd, ...argv] = inNetns(netns, [BIN, ...args]);
  const proc = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, NO_COLOR: "1" } });
  proc.stderr.pipe(log);
  return new Promise((resolve, reject) => {
    let out = "";
    let dashboard = null;
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`no "ferrostack ready" within ${START_DEADLINE_MS} ms:\n${out}`));
    }, START_DEADLINE_MS);
    proc.on("exit", (code) => reject(new Error(`ferrostack exited (${code}) before it was ready:\n${out}`)));
    proc.stdout.on("data", (chunk) => {
      log.write(chunk);
      out += chunk.toString();
      const m = out.match(/^Dashboard: (https?:\/\/\S+)/m);
      if (m) dashboard = m[1];
      if (/^ferrostack ready/m.test(out)) {
        clearTimeout(timer);
        if (!dashboard) reject(new Error(`no dashboard URL in the start-up output:\n${out}`));
        else resolve({ proc, dashboard, tmp, dataDir: path.join(tmp, "data"), logPath });
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
  reapVms(path.join(server.tmp, "vms"));
  fs.rmSync(server.tmp, { recursive: true, force: true });
}

// Kills `pid` if it is still a `name` process (a pidfile may outlive its process).
function killIf(pid, name) {
  try {
    if (fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim().startsWith(name)) process.kill(pid, "SIGKILL");
  } catch { /* gone already */ }
}

// Ends the VMs a stopped stack leaves running (by their pidfiles): a
// stopped agent leaves its guests to be adopted by the next start.
function reapVms(instancesDir) {
  if (!fs.existsSync(instancesDir)) return;
  for (const vm of fs.readdirSync(instancesDir)) {
    const pidfile = path.join(instancesDir, vm, "qemu.pid");
    if (fs.existsSync(pidfile)) killIf(Number(fs.readFileSync(pidfile, "utf8").trim()), "qemu");
  }
}

// The agent's DHCP state dir for a data dir (FNV-1a of its path, as
// host_network::dhcp_state_path computes it).
function dhcpStateDir(dataDir) {
  let h = 0xcbf29ce484222325n;
  for (const b of Buffer.from(dataDir)) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return path.join(DHCP_RUN_DIR, `network-${h.toString(16).padStart(16, "0")}`);
}

// Ends the dnsmasq processes the agent of the stack on `dataDir` started
// (by their pid files) and drops their `qdhcp-<network>` namespaces, for
// the networks it has state for and those in `networks`; then the state.
function cleanupDhcp(dataDir, networks) {
  const state = dhcpStateDir(dataDir);
  const dhcp = path.join(state, "dhcp");
  const nets = new Set(networks);
  if (fs.existsSync(dhcp)) for (const n of fs.readdirSync(dhcp)) nets.add(n);
  for (const net of nets) {
    const dir = path.join(dhcp, net);
    const pidfile = path.join(dir, "pid");
    if (fs.existsSync(pidfile)) killIf(Number(fs.readFileSync(pidfile, "utf8").trim()), "dnsmasq");
    fs.rmSync(dir, { recursive: true, force: true });
    spawnSync("ip", ["netns", "del", `qdhcp-${net}`], { stdio: "ignore" });
  }
  fs.rmSync(state, { recursive: true, force: true });
}

// The test guest's image, built by guest-image/build.sh when missing.
function guestImage() {
  if (!fs.existsSync(GUEST_IMAGE)) {
    const r = spawnSync(path.join(ROOT, "guest-image", "build.sh"), [], { encoding: "utf8", timeout: 900_000 });
    assert.equal(r.status, 0, `guest-image/build.sh failed:\n${r.stdout}\n${r.stderr}`);
  }
  assert.ok(fs.existsSync(GUEST_IMAGE), `${GUEST_IMAGE} does not exist`);
  return GUEST_IMAGE;
}

// The link names of network namespace `ns` (`ip -n NS -o link`).
export function linksOf(ns) {
  const r = spawnSync("ip", ["-n", ns, "-o", "link"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split("\n").filter(Boolean).map((l) => l.split(":")[1].trim().split("@")[0]);
}

// The names of the network namespaces in /run/netns, this machine's or
// (given a PID) those of that process's mount namespace.
export function netnsNames(pid = null) {
  const argv = pid ? ["nsenter", `--mount=/proc/${pid}/ns/mnt`, "ip", "netns", "list"] : ["ip", "netns", "list"];
  const r = spawnSync(argv[0], argv.slice(1), { encoding: "utf8" });
  assert.equal(r.status, 0, `${argv.join(" ")}: ${r.stderr}`);
  return r.stdout.split("\n").filter(Boolean).map((l) => l.split(" ")[0]);
}

// Starts a cloud and a browser for the calling test file; the returned
// object is filled in before the first test runs. `guests`: real QEMU
// guests and data plane in a network namespace of their own (`t.netns`);
// `t.guestImage` is the test guest, and a test adds the ids of networks it
// makes to `t.networks` (their DHCP is cleaned up even if the agent's
// state for them is gone).
export function useStack(name, { guests = false } = {}) {
  const t = { server: null, context: null, page: null, userData: null, netns: null,
    wrapperDir: null, guestImage: null, networks: new Set() };
  before(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    assert.ok(fs.existsSync(BIN), `${BIN} does not exist: build it with cargo build --bin ferrostack`);
    let executablePath = CHROMIUM;
    if (guests) {
      t.guestImage = guestImage();
      const ns = `fsbrw-${crypto.randomBytes(4).toString("hex")}`;
      for (const argv of [["netns", "add", ns], ["-n", ns, "link", "set", "lo", "up"]]) {
        const r = spawnSync("ip", argv, { encoding: "utf8" });
        assert.equal(r.status, 0, `ip ${argv.join(" ")}: ${r.stderr}`);
        t.netns = ns;
      }
      t.wrapperDir = fs.mkdtempSync(path.join(os.tmpdir(), "fs-chromium-netns-"));
      executablePath = path.join(t.wrapperDir, "chromium");
      fs.writeFileSync(executablePath,
        `#!/bin/sh\nexec nsenter --net=/run/netns/${ns} ${CHROMIUM} "$@"\n`, { mode: 0o755 });
    }
    t.server = await startStack(name, t.netns);
    t.userData = fs.mkdtempSync(path.join(os.tmpdir(), "fs-chromium-"));
    t.context = await chromium.launchPersistentContext(t.userData, {
      executablePath,
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
    if (t.netns) {
      if (t.server) cleanupDhcp(t.server.dataDir, t.networks);
      spawnSync("ip", ["netns", "del", t.netns], { stdio: "ignore" });
    }
    if (t.wrapperDir) fs.rmSync(t.wrapperDir, { recursive: true, force: true });
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
    // The network namespaces the running (guests) cloud sees in its /run/netns.
    stackNetns: () => netnsNames(t.server.proc.pid),
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

// Uploads an image and waits for it to be active: a small raw one of
// zeros, or `file` in `format`.
export async function uploadImage(t, name, visibility = "public", { file = null, format = "raw" } = {}) {
  await t.go("/images");
  if (!file) {
    file = path.join(t.server.tmp, `${name}.raw`);
    fs.writeFileSync(file, Buffer.alloc(2 * 1024 * 1024));
  }
  await t.page.getByLabel("Name", { exact: true }).fill(name);
  await t.page.getByLabel("Disk format").selectOption(format);
  await t.page.getByLabel("Visibility").selectOption(visibility);
  await t.page.getByLabel("File").setInputFiles(file);
  await t.page.getByRole("button", { name: "Upload" }).click();
  await t.page.locator("#images tr", { hasText: name }).getByText("active").waitFor();
}
