// A member's compute: key pairs (created, imported with the fingerprint
// shown, deleted) and an instance on the fake hypervisor taken through the
// actions a person clicks: launch, stop/start from the list, pause/unpause,
// reboot, resize then confirm, resize then revert, snapshot, delete. Where
// a page polls, every state is awaited without reloading it.
import { test } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import {
  useStack, createFlavor, createProjectWithMember, uploadImage,
  ADMIN_PASSWORD, USER_PASSWORD, STATE_DEADLINE_MS,
} from "./harness.mjs";

const t = useStack("instances");
// Made once with `ssh-keygen -t ed25519`; only the public half exists.
const PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINyqyIko/JWyu2HUxrAfbncBFt9YLatx/i58nZpvbtJR browser-test";
// What `ssh-keygen -l -E md5` prints for it, computed rather than pasted.
const FINGERPRINT = crypto.createHash("md5").update(Buffer.from(PUBLIC_KEY.split(" ")[1], "base64"))
  .digest("hex").match(/../g).join(":");

// The status shown in `scope` becomes `want` with no task running.
const settled = (scope, want) => t.page.locator(`${scope} .status[data-status="${want}"]`, { hasText: new RegExp(`^${want}$`) })
  .waitFor({ timeout: STATE_DEADLINE_MS });
const button = (name) => t.page.getByRole("button", { name, exact: true });

// Clicks an action on the detail page, waits for its message, then for the
// state the poll shows, and checks the page was never reloaded meanwhile.
async function act(label, said, want) {
  await button(label).click();
  await t.expectFlash(said);
  await t.markDocument();
  await settled("#instance", want);
  assert.equal(await t.sameDocument(), true, `the page was reloaded while waiting for ${want}`);
}

test("the admin sets up two flavors, an image and a project with a member", async () => {
  await t.loginOk("admin", ADMIN_PASSWORD);
  await createFlavor(t, "m1.tiny", 256);
  await createFlavor(t, "m1.small", 512);
  await uploadImage(t, "tiny-raw");
  await t.shot("images");
  await createProjectWithMember(t, "vm-proj", "vm-user");
  // The seed's `nova quota-update --cores 30`, from the project's Quotas page.
  await t.go("/identity/projects");
  await t.page.locator('tr[data-project="vm-proj"]').getByRole("link", { name: "Quotas" }).click();
  await t.page.getByLabel("vCPUs").fill("30");
  await button("Save quotas").click();
  await t.expectFlash(/quotas were saved/);
  await t.logout();
});

test("key pairs: created and downloaded once, imported with its fingerprint, deleted", async () => {
  const page = t.page;
  await t.loginOk("vm-user", USER_PASSWORD);
  await t.go("/keypairs");
  await page.locator("#create-name").fill("k1");
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    button("Create and download").click(),
  ]);
  assert.equal(download.suggestedFilename(), "k1.pem");
  assert.match(fs.readFileSync(await download.path(), "utf8"), /BEGIN .*PRIVATE KEY/);

  await t.go("/keypairs");
  await page.locator("#import-name").fill("laptop key");
  await page.getByLabel("Public key (OpenSSH)").fill(PUBLIC_KEY);
  await button("Import").click();
  await t.expectFlash(/Key pair laptop key was imported/);
  const imported = page.locator("#keypairs tr", { hasText: "laptop key" });
  assert.equal(await imported.locator("code").innerText(), FINGERPRINT);
  await page.locator("#keypairs tr", { hasText: "k1" }).waitFor();
  await t.shot("keypairs");

  t.confirmNext();
  await imported.getByRole("button", { name: "Delete" }).click();
  // The name as typed (a space, not %20).
  await t.expectFlash(/^Key pair laptop key was deleted\.$/);
  assert.equal(await imported.count(), 0);
});

test("an instance is launched, then stopped and started from the list", async () => {
  const page = t.page;
  await t.go("/instances");
  await button("Launch instance").click();
  const dialog = page.getByRole("dialog", { name: "Launch instance" });
  await dialog.getByLabel("Name").fill("vm1");
  await dialog.getByLabel("Image").selectOption({ label: "tiny-raw" });
  await dialog.getByLabel("Flavor").selectOption({ label: "m1.tiny (1 vCPU, 256 MiB RAM, 1 GB disk)" });
  await dialog.getByLabel("Key pair").selectOption("k1");
  // The project has no network: the instance boots without one.
  assert.match(await dialog.innerText(), /No network yet/);
  await t.shot("launch-dialog");
  await dialog.getByRole("button", { name: "Launch" }).click();
  await page.waitForURL(/\/instances$/);
  await t.expectFlash(/vm1 is being launched/);

  // Status and row actions follow the state by polling, with no reload.
  const row = page.locator("#instances tr", { hasText: "vm1" });
  await t.markDocument();
  await settled("#instances tr[data-server-id]", "ACTIVE");
  await row.getByRole("button", { name: "Stop", exact: true }).waitFor();
  assert.equal(await t.sameDocument(), true, "the page was reloaded");
  await t.shot("instances");

  // The member's overview counts the instance against the quota of 30 vCPUs.
  await t.go("/");
  assert.match(await page.locator("main").innerText(), /vCPUs\s*1 used of 30/);
  await t.shot("overview");
  await t.go("/instances");
  await settled("#instances tr[data-server-id]", "ACTIVE");

  await row.getByRole("button", { name: "Stop", exact: true }).click();
  await t.expectFlash(/Stopping the instance/);
  assert.match(page.url(), /\/instances$/, "a row's action comes back to the list");
  await t.markDocument();
  await settled("#instances tr[data-server-id]", "SHUTOFF");
  await row.getByRole("button", { name: "Start", exact: true }).click();
  await t.expectFlash(/Starting the instance/);
  await settled("#instances tr[data-server-id]", "ACTIVE");
  await row.getByRole("button", { name: "Stop", exact: true }).waitFor();
});

test("on the detail page: pause, unpause, reboot, each followed without a reload", async () => {
  await t.page.getByRole("link", { name: "vm1" }).click();
  await t.page.getByRole("heading", { name: "Console log" }).waitFor();
  await settled("#instance", "ACTIVE");
  await t.shot("instance-detail");
  await act("Pause", /Pausing the instance/, "PAUSED");
  await button("Unpause").waitFor();
  assert.equal(await button("Pause").count(), 0, "the buttons follow the state");
  await t.shot("instance-paused");
  await act("Unpause", /Unpausing the instance/, "ACTIVE");
  await act("Reboot", /Rebooting the instance\./, "ACTIVE");
  await button("Pause").waitFor();
});

test("resize then confirm, resize then revert", async () => {
  const flavor = t.page.locator("#instance dd.flavor");
  assert.equal(await flavor.innerText(), "m1.tiny");
  await t.page.getByLabel("New flavor").selectOption({ label: "m1.small" });
  await act("Resize", /Resizing the instance/, "VERIFY_RESIZE");
  await t.shot("instance-verify-resize");
  await act("Confirm resize", /Resize confirmed/, "ACTIVE");
  assert.equal(await flavor.innerText(), "m1.small");

  await t.page.getByLabel("New flavor").selectOption({ label: "m1.tiny" });
  await act("Resize", /Resizing the instance/, "VERIFY_RESIZE");
  await act("Revert resize", /Reverting the resize/, "ACTIVE");
  assert.equal(await flavor.innerText(), "m1.small");
});

test("a snapshot appears on the Images page", async () => {
  const page = t.page;
  await page.getByLabel("Snapshot name").fill("vm1-snap");
  await button("Create snapshot").click();
  await t.expectFlash(/Snapshot requested/);
  // The Images page does not poll: look again until it is there, active.
  const deadline = Date.now() + STATE_DEADLINE_MS;
  for (;;) {
    await t.go("/images");
    const snap = page.locator("#images tr", { hasText: "vm1-snap" });
    if (await snap.count() && /active/.test(await snap.innerText())) break;
    assert.ok(Date.now() < deadline, "the snapshot did not become active");
    await page.waitForTimeout(500);
  }
  await t.shot("images-snapshot");
});

test("the instance is deleted from the list and its row goes away", async () => {
  const page = t.page;
  await t.go("/instances");
  t.confirmNext();
  await page.locator("#instances tr", { hasText: "vm1" }).getByRole("button", { name: "Delete" }).click();
  await t.expectFlash(/being deleted/);
  await page.locator("#instances tr", { hasText: "vm1" }).waitFor({ state: "detached", timeout: STATE_DEADLINE_MS });
  await t.logout();
});
