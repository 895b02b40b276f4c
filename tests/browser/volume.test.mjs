// A member's block storage through the pages: a volume created, seen
// available (the list polls, no reload), extended, snapshotted, a second
// volume made from the snapshot, everything deleted again; a volume over
// the gigabytes quota refused with Cinder's 413 message and nothing made;
// a volume backed up (full, then incremental), the increment restored to a
// new volume, the backups deleted newest first (the older refused while the
// newer stands); the usage on the Overview; a volume attached to an instance on the fake
// hypervisor (the list shows the instance and device, the instance's page
// the volume) and detached; an
// instance booted from a new volume made from an image, and one from a
// bootable volume made from an image on the Volumes page.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  useStack, createFlavor, createProjectWithMember, uploadImage,
  ADMIN_PASSWORD, USER_PASSWORD, STATE_DEADLINE_MS,
} from "./harness.mjs";

const t = useStack("volume");
const button = (name) => t.page.getByRole("button", { name, exact: true });
const errorFlash = () => t.page.locator(".flash.error");
// The next page's message matches `re` (a refusal fails with its words).
const flashSays = async (re) => {
  await t.page.locator(".flash").first().waitFor();
  assert.match(await t.flash(), re);
};
const volumeRow = (name) => t.page.locator(`#volumes tr[data-volume="${name}"]`);
// The row's status becomes `want` (the poll updates it in place).
const settled = (row, want) => row.locator(`.status[data-status="${want}"]`).waitFor({ timeout: STATE_DEADLINE_MS });
// Opens a row's actions menu ("Manage", "Create volume", "Restore").
const openMenu = async (row, summary) => {
  const menu = row.locator("details.row-menu");
  if (!(await menu.evaluate((d) => d.open))) await menu.locator("summary", { hasText: summary }).click();
};

async function createVolume(name, size) {
  await t.go("/volumes");
  await t.page.getByLabel("Volume name", { exact: true }).fill(name);
  await t.page.getByLabel("Source", { exact: true }).selectOption("blank");
  await t.page.getByLabel("Size (GB)", { exact: true }).fill(String(size));
  await button("Create volume").click();
}

async function deleteVolume(name) {
  const row = volumeRow(name);
  t.confirmNext();
  await row.getByRole("button", { name: "Delete" }).click();
  await t.expectFlash(/The volume is being deleted/);
  await row.waitFor({ state: "detached", timeout: STATE_DEADLINE_MS });
}

test("the admin sets up a flavor, an image and a project with a member", async () => {
  await t.loginOk("admin", ADMIN_PASSWORD);
  await createFlavor(t, "m1.tiny", 256);
  await uploadImage(t, "tiny-raw");
  await createProjectWithMember(t, "vol-proj", "vol-user");
  await t.logout();
});

test("a volume is created, becomes available, is extended and snapshotted; a volume from the snapshot; all deleted", async () => {
  const page = t.page;
  await t.loginOk("vol-user", USER_PASSWORD);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Volumes", exact: true }).click();
  await page.getByRole("heading", { name: "Volumes", level: 1 }).waitFor();
  await page.locator("#no-volumes").waitFor();

  await page.getByLabel("Volume name", { exact: true }).fill("vol1");
  await page.getByLabel("Size (GB)", { exact: true }).fill("1");
  await button("Create volume").click();
  await t.expectFlash(/Volume vol1 is being created/);
  const vol1 = volumeRow("vol1");
  await t.markDocument();
  await settled(vol1, "available");
  assert.equal(await t.sameDocument(), true, "the page was reloaded while waiting for available");
  assert.equal(await vol1.locator('[data-field="size"]').innerText(), "1 GB");
  assert.equal(await vol1.locator('[data-field="bootable"]').innerText(), "no");
  assert.equal(await vol1.locator('[data-field="attached"]').innerText(), "");
  await t.shot("volumes");

  // Extend to 2 GB: the size changes in the row.
  await openMenu(vol1, "Manage");
  await vol1.getByLabel("New size (GB)").fill("2");
  await vol1.getByRole("button", { name: "Extend" }).click();
  await t.expectFlash(/The volume is being extended to 2 GB/);
  await vol1.locator('[data-field="size"]', { hasText: /^2 GB$/ }).waitFor({ timeout: STATE_DEADLINE_MS });
  await settled(vol1, "available");

  // A snapshot, listed on its page with its volume.
  await openMenu(vol1, "Manage");
  await vol1.getByLabel("Snapshot name").fill("vol1-snap");
  await vol1.getByRole("button", { name: "Create snapshot" }).click();
  await t.expectFlash(/Snapshot vol1-snap is being created/);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Volume snapshots" }).click();
  await page.getByRole("heading", { name: "Volume snapshots", level: 1 }).waitFor();
  const snap = page.locator('#snapshots tr[data-snapshot="vol1-snap"]');
  await settled(snap, "available");
  assert.match(await snap.innerText(), /vol1-snap\s+vol1\s+2 GB\s+available/);
  await t.shot("volume-snapshots");

  // A new volume from the snapshot, with the snapshot's size.
  await openMenu(snap, "Create volume");
  await snap.getByLabel("New volume name").fill("vol2");
  await snap.getByRole("button", { name: "Create volume" }).click();
  await t.expectFlash(/Volume vol2 is being created/);
  await page.waitForURL(/\/volumes$/);
  const vol2 = volumeRow("vol2");
  await settled(vol2, "available");
  assert.equal(await vol2.locator('[data-field="size"]').innerText(), "2 GB");

  // The Overview counts both.
  await t.go("/");
  assert.match(await page.locator(".usage", { hasText: "Volumes" }).first().innerText(), /2 used of 10/);
  // (Snapshots count against the gigabytes too, as in Cinder: 4 or 6.)
  assert.match(await page.locator(".usage", { hasText: "Volume storage" }).innerText(), /[46] GB used of 1000 GB/);
  assert.match(await page.locator(".usage", { hasText: "Volume snapshots" }).innerText(), /1 used of 10/);
  await t.shot("overview-volumes");

  // Everything deleted again: the volume from the snapshot, the snapshot, the volume.
  await t.go("/volumes");
  await deleteVolume("vol2");
  await t.go("/volume-snapshots");
  t.confirmNext();
  await snap.getByRole("button", { name: "Delete" }).click();
  await t.expectFlash(/The snapshot is being deleted/);
  await snap.waitFor({ state: "detached", timeout: STATE_DEADLINE_MS });
  await t.go("/volumes");
  await deleteVolume("vol1");
  await page.locator("#volumes tbody tr").first().waitFor({ state: "detached" });
});

test("a volume is backed up, full then incremental, restored to a new volume, and the backups deleted newest first", async () => {
  const page = t.page;
  await createVolume("bk", 1);
  await t.expectFlash(/Volume bk is being created/);
  const bk = volumeRow("bk");
  await settled(bk, "available");
  const backUp = async (name, incremental) => {
    await t.go("/volumes");
    await settled(bk, "available");
    await openMenu(bk, "Manage");
    await bk.getByLabel("Backup name").fill(name);
    if (incremental) await bk.getByLabel("Incremental").check();
    await bk.getByRole("button", { name: "Create backup" }).click();
    await t.expectFlash(new RegExp(`${incremental ? "Incremental backup" : "Backup"} ${name} is being created`));
    await t.go("/volume-backups");
    const row = page.locator(`#backups tr[data-backup="${name}"]`);
    await settled(row, "available");
    return row;
  };
  const full = await backUp("bk-full", false);
  assert.match(await full.innerText(), /full/);
  const inc = await backUp("bk-inc", true);
  assert.match(await inc.innerText(), /incremental/);
  await t.shot("volume-backups");

  // The increment restored to a new volume, which becomes available.
  await openMenu(inc, "Restore");
  await inc.getByLabel("New volume name").fill("bk-restored");
  await inc.getByRole("button", { name: "Restore to a new volume" }).click();
  await t.expectFlash(/The backup is being restored to the new volume bk-restored/);
  await t.go("/volumes");
  await settled(volumeRow("bk-restored"), "available");

  // The full backup has an increment on it: refused in Cinder's words.
  await t.go("/volume-backups");
  await settled(inc, "available");
  t.confirmNext();
  await full.getByRole("button", { name: "Delete" }).click();
  await errorFlash().waitFor();
  assert.match(await errorFlash().innerText(), /Incremental backups exist for this backup/);
  for (const row of [inc, full]) {
    await t.go("/volume-backups");
    t.confirmNext();
    await row.getByRole("button", { name: "Delete" }).click();
    await t.expectFlash(/The backup is being deleted/);
    await row.waitFor({ state: "detached", timeout: STATE_DEADLINE_MS });
  }
  await t.go("/volumes");
  await deleteVolume("bk-restored");
  await deleteVolume("bk");
});

test("a volume over the gigabytes quota is refused with Cinder's message and nothing is created", async () => {
  const page = t.page;
  await createVolume("too-big", 5000);
  await errorFlash().waitFor();
  assert.match(await errorFlash().innerText(), /exceeds allowed gigabytes quota/);
  await t.shot("volume-over-quota");
  assert.equal(await volumeRow("too-big").count(), 0);
  assert.equal(await page.locator("#volumes tbody tr").count(), 0);
  await t.go("/");
  assert.match(await page.locator(".usage", { hasText: "Volume storage" }).innerText(), /0 GB used of 1000 GB/);
});

test("a volume is attached to an instance, shown with its device, and detached", async () => {
  const page = t.page;
  await t.go("/instances");
  await button("Launch instance").click();
  const dialog = page.getByRole("dialog", { name: "Launch instance" });
  await dialog.getByLabel("Name").fill("vm-vol");
  await dialog.getByLabel("Image").selectOption({ label: "tiny-raw" });
  await dialog.getByLabel("Flavor").selectOption({ label: "m1.tiny (1 vCPU, 256 MiB RAM, 1 GB disk)" });
  await dialog.getByRole("button", { name: "Launch" }).click();
  await t.expectFlash(/vm-vol is being launched/);
  const vm = page.locator("#instances tr", { hasText: "vm-vol" });
  await vm.locator(".status[data-status=ACTIVE]").waitFor({ timeout: STATE_DEADLINE_MS });

  await createVolume("data", 1);
  await t.expectFlash(/Volume data is being created/);
  const data = volumeRow("data");
  await settled(data, "available");
  await openMenu(data, "Manage");
  await data.getByLabel("Instance").selectOption({ label: "vm-vol" });
  await t.markDocument();
  await data.getByRole("button", { name: "Attach" }).click();
  await flashSays(/The volume is being attached/);
  await settled(data, "in-use");
  await data.locator('[data-field="attached"]', { hasText: /^vm-vol on \/dev\/\w+$/ })
    .waitFor({ timeout: STATE_DEADLINE_MS });
  await t.shot("volume-attached");
  // In use: no Delete, but Detach.
  assert.equal(await data.getByRole("button", { name: "Delete" }).count(), 0);
  // The instance's page lists it too.
  await t.go("/instances");
  await vm.getByRole("link", { name: "vm-vol" }).click();
  assert.equal(await page.locator("#instance dd.volumes").innerText(), "data");
  await t.go("/volumes");

  await data.getByRole("button", { name: "Detach from vm-vol" }).click();
  await t.expectFlash(/The volume is being detached/);
  await settled(data, "available");
  await data.locator('[data-field="attached"]', { hasText: /^$/ }).waitFor({ timeout: STATE_DEADLINE_MS });
  await deleteVolume("data");
});

test("an instance boots from a new volume made from an image", async () => {
  const page = t.page;
  await t.go("/instances");
  await button("Launch instance").click();
  const dialog = page.getByRole("dialog", { name: "Launch instance" });
  await dialog.getByLabel("Name").fill("vm-bfv");
  await dialog.getByLabel("Boot source").selectOption("volume-from-image");
  // The script shows the chosen source's fields only.
  assert.equal(await dialog.getByLabel("Bootable volume").isVisible(), false);
  await dialog.getByLabel("Image").selectOption({ label: "tiny-raw" });
  await dialog.getByLabel("Volume size (GB)").fill("1");
  await dialog.getByLabel("Delete the volume with the instance").check();
  await dialog.getByLabel("Flavor").selectOption({ label: "m1.tiny (1 vCPU, 256 MiB RAM, 1 GB disk)" });
  await t.shot("launch-dialog-volume");
  await dialog.getByRole("button", { name: "Launch" }).click();
  await flashSays(/vm-bfv is being launched/);
  const vm = page.locator("#instances tr", { hasText: "vm-bfv" });
  await vm.locator(".status[data-status=ACTIVE]").waitFor({ timeout: STATE_DEADLINE_MS });
  assert.match(await vm.innerText(), /\(boot volume\)/);

  // Its boot volume is listed, bootable and attached to it.
  await t.go("/volumes");
  const boot = page.locator("#volumes tbody tr", { hasText: "vm-bfv" });
  await settled(boot, "in-use");
  assert.equal(await boot.locator('[data-field="bootable"]').innerText(), "yes");
  await t.shot("volume-boot");

  // Deleting the instance takes the volume with it.
  await t.go("/instances");
  t.confirmNext();
  await vm.getByRole("button", { name: "Delete" }).click();
  await t.expectFlash(/being deleted/);
  await vm.waitFor({ state: "detached", timeout: STATE_DEADLINE_MS });
  await t.go("/volumes");
  await page.locator("#volumes tbody tr", { hasText: "vm-bfv" }).waitFor({ state: "detached", timeout: STATE_DEADLINE_MS });
});

test("a volume made from an image is bootable, and an instance boots from it and leaves it", async () => {
  const page = t.page;
  await t.go("/volumes");
  await page.getByLabel("Volume name", { exact: true }).fill("root");
  await page.getByLabel("Source", { exact: true }).selectOption("image");
  await page.getByLabel("Image", { exact: true }).selectOption({ label: "tiny-raw" });
  await page.getByLabel("Size (GB)", { exact: true }).fill("1");
  await button("Create volume").click();
  await t.expectFlash(/Volume root is being created/);
  const root = volumeRow("root");
  await settled(root, "available");
  assert.equal(await root.locator('[data-field="bootable"]').innerText(), "yes");

  // Its row's "Launch instance" opens the dialog with it as the boot source.
  await root.getByRole("link", { name: "Launch instance" }).click();
  const dialog = page.getByRole("dialog", { name: "Launch instance" });
  await dialog.waitFor();
  assert.equal(await dialog.getByLabel("Boot source").inputValue(), "volume");
  assert.equal(await dialog.getByLabel("Image").isVisible(), false);
  assert.equal(await dialog.getByLabel("Bootable volume").evaluate((s) => s.selectedOptions[0].text), "root (1 GB)");
  await dialog.getByLabel("Name").fill("vm-root");
  await dialog.getByLabel("Flavor").selectOption({ label: "m1.tiny (1 vCPU, 256 MiB RAM, 1 GB disk)" });
  await dialog.getByRole("button", { name: "Launch" }).click();
  await flashSays(/vm-root is being launched/);
  const vm = page.locator("#instances tr", { hasText: "vm-root" });
  await vm.locator(".status[data-status=ACTIVE]").waitFor({ timeout: STATE_DEADLINE_MS });
  await t.go("/volumes");
  await root.locator('[data-field="attached"]', { hasText: /^vm-root/ }).waitFor({ timeout: STATE_DEADLINE_MS });
  await settled(root, "in-use");

  // Not deleted with the instance (the box was left unticked): available again.
  await t.go("/instances");
  t.confirmNext();
  await vm.getByRole("button", { name: "Delete" }).click();
  await t.expectFlash(/being deleted/);
  await vm.waitFor({ state: "detached", timeout: STATE_DEADLINE_MS });
  await t.go("/volumes");
  await settled(root, "available");
  await deleteVolume("root");
  await t.logout();
});
