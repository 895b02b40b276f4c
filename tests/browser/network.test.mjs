// A member's networking through the pages: a network with a subnet (and a
// refused subnet that leaves nothing behind), a port on it, a security group with an
// ICMP rule added and deleted, an instance launched on the network (the
// fake hypervisor's fake data plane) whose address shows in the instance
// list, then everything deleted again.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  useStack, createFlavor, createProjectWithMember, uploadImage,
  ADMIN_PASSWORD, USER_PASSWORD, STATE_DEADLINE_MS,
} from "./harness.mjs";

const t = useStack("network");
const button = (name) => t.page.getByRole("button", { name, exact: true });
const errorFlash = () => t.page.locator(".flash.error");

test("the admin sets up a flavor, an image and a project with a member", async () => {
  await t.loginOk("admin", ADMIN_PASSWORD);
  await createFlavor(t, "m1.tiny", 256);
  await uploadImage(t, "tiny-raw");
  await createProjectWithMember(t, "net-proj", "net-user");
  await t.logout();
});

test("a network is created with a subnet and listed with its CIDR", async () => {
  const page = t.page;
  await t.loginOk("net-user", USER_PASSWORD);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Networks" }).click();
  await page.getByRole("heading", { name: "Networks", level: 1 }).waitFor();
  await page.getByLabel("Network name").fill("net1");
  await page.getByLabel("Subnet name").fill("sub1");
  await page.getByLabel("CIDR").fill("10.0.0.0/24");
  assert.equal(await page.getByLabel("DHCP enabled").isChecked(), true);
  await button("Create network").click();
  await t.expectFlash(/Network net1 was created with subnet 10\.0\.0\.0\/24/);
  const row = page.locator('#networks tr[data-network="net1"]');
  assert.match(await row.innerText(), /sub1\s+10\.0\.0\.0\/24/);
  await t.shot("networks");

  // The detail page: the subnet with its gateway and pool.
  await row.getByRole("link", { name: "net1" }).click();
  await page.getByRole("heading", { name: "Network net1" }).waitFor();
  const subnet = page.locator("#subnets tbody tr", { hasText: "sub1" });
  assert.match(await subnet.innerText(), /10\.0\.0\.0\/24\s+10\.0\.0\.1\s+yes\s+10\.0\.0\.2 – 10\.0\.0\.254/);
  await t.shot("network-detail");
});

test("a port is created with a chosen address, a taken one is refused, the port deleted", async () => {
  const page = t.page;
  await page.getByLabel("Port name").fill("p1");
  await page.getByLabel("Fixed IP").fill("10.0.0.50");
  await button("Create port").click();
  await t.expectFlash(/Port created with address 10\.0\.0\.50\./);
  const p1 = page.locator("#ports tbody tr", { hasText: "p1" });
  assert.match(await p1.innerText(), /10\.0\.0\.50\s+fa:16:3e/);

  await page.getByLabel("Port name").fill("p2");
  await page.getByLabel("Fixed IP").fill("10.0.0.50");
  await button("Create port").click();
  await errorFlash().waitFor();
  assert.match(await errorFlash().innerText(), /10\.0\.0\.50/);
  assert.equal(await page.locator("#ports tbody tr", { hasText: "p2" }).count(), 0);

  t.confirmNext();
  await p1.getByRole("button", { name: "Delete port" }).click();
  await t.expectFlash(/The port was deleted/);
  assert.equal(await p1.count(), 0);
});

test("a subnet Neutron refuses is shown in its words, and no network is left behind", async () => {
  const page = t.page;
  await t.go("/networks");
  await page.getByLabel("Network name").fill("bad-net");
  await page.getByLabel("CIDR").fill("10.0.0.0/99");
  await button("Create network").click();
  await errorFlash().waitFor();
  assert.match(await errorFlash().innerText(), /10\.0\.0\.0\/99/);
  assert.equal(await page.locator('#networks tr[data-network="bad-net"]').count(), 0);
  assert.equal(await page.locator("#networks tbody tr").count(), 1);
});

test("a security group gets an ICMP rule, which is then deleted, then the group", async () => {
  const page = t.page;
  await page.getByRole("link", { name: "Security groups" }).click();
  await page.getByLabel("Name", { exact: true }).fill("pingable");
  await page.getByLabel("Description").fill("lets pings in");
  await button("Create security group").click();
  await t.expectFlash(/Security group pingable was created/);
  const group = page.locator('#security-groups tr[data-group="pingable"]');
  await group.getByRole("link", { name: "pingable" }).click();
  await page.getByRole("heading", { name: "Security group pingable" }).waitFor();
  // A new group has the two egress rules.
  assert.equal(await page.locator("#rules tbody tr").count(), 2);

  await page.getByLabel("Direction").selectOption("ingress");
  await page.getByLabel("Protocol").selectOption("icmp");
  await page.getByLabel("Remote CIDR").fill("0.0.0.0/0");
  await button("Add rule").click();
  await t.expectFlash(/The rule was added/);
  const icmp = page.locator("#rules tbody tr", { hasText: "icmp" });
  assert.match(await icmp.innerText(), /ingress\s+IPv4\s+icmp\s+any\s+0\.0\.0\.0\/0/);
  await t.shot("security-group");

  // The same rule again: Neutron's refusal, shown on the page.
  await page.getByLabel("Protocol").selectOption("icmp");
  await page.getByLabel("Remote CIDR").fill("0.0.0.0/0");
  await button("Add rule").click();
  await errorFlash().waitFor();
  assert.match(await errorFlash().innerText(), /exists/i);

  // A port that is not a number is refused before Neutron is asked.
  await page.getByLabel("Protocol").selectOption("tcp");
  await page.getByLabel("From port (ICMP: type)").fill("ssh");
  await button("Add rule").click();
  await t.expectFlash(/From port must be a whole number/);

  t.confirmNext();
  await icmp.getByRole("button", { name: "Delete rule" }).click();
  await t.expectFlash(/The rule was deleted/);
  assert.equal(await icmp.count(), 0);
  assert.equal(await page.locator("#rules tbody tr").count(), 2);

  await t.go("/security-groups");
  // The project's default group cannot be deleted, so it offers no button.
  assert.equal(await page.locator('#security-groups tr[data-group="default"] button').count(), 0);
  t.confirmNext();
  await group.getByRole("button", { name: "Delete" }).click();
  await t.expectFlash(/The security group was deleted/);
  assert.equal(await group.count(), 0);
});

test("an instance launched on the network shows its address, then is deleted with the network", async () => {
  const page = t.page;
  await t.go("/instances");
  await button("Launch instance").click();
  const dialog = page.getByRole("dialog", { name: "Launch instance" });
  await dialog.getByLabel("Name").fill("vm-net");
  await dialog.getByLabel("Image").selectOption({ label: "tiny-raw" });
  await dialog.getByLabel("Flavor").selectOption({ label: "m1.tiny (1 vCPU, 256 MiB RAM, 1 GB disk)" });
  await dialog.getByLabel("Networks").selectOption([{ label: "net1" }]);
  assert.deepEqual(await dialog.getByLabel("Security groups").evaluate(
    (s) => [...s.selectedOptions].map((o) => o.value)), ["default"]);
  await t.shot("launch-dialog-network");
  await dialog.getByRole("button", { name: "Launch" }).click();
  await t.expectFlash(/vm-net is being launched/);

  // The address arrives with the poll, without a reload.
  const row = page.locator("#instances tr", { hasText: "vm-net" });
  await t.markDocument();
  await row.locator(".status[data-status=ACTIVE]").waitFor({ timeout: STATE_DEADLINE_MS });
  await row.locator(".addresses", { hasText: /^net1=10\.0\.0\.\d+$/ }).waitFor({ timeout: STATE_DEADLINE_MS });
  assert.equal(await t.sameDocument(), true, "the page was reloaded");
  const address = (await row.locator(".addresses").innerText()).split("=")[1];
  await t.shot("instances-addresses");

  // The instance's page shows it too.
  await row.getByRole("link", { name: "vm-net" }).click();
  assert.equal(await page.locator("#instance dd.addresses").innerText(), `net1=${address}`);

  // The network's page lists the instance's port with that address.
  await t.go("/networks");
  await page.locator('#networks tr[data-network="net1"]').getByRole("link", { name: "net1" }).click();
  const port = page.locator("#ports tbody tr", { hasText: "instance" });
  assert.match(await port.innerText(), new RegExp(address.replaceAll(".", "\\.")));

  await t.go("/instances");
  t.confirmNext();
  await row.getByRole("button", { name: "Delete" }).click();
  await t.expectFlash(/being deleted/);
  await row.waitFor({ state: "detached", timeout: STATE_DEADLINE_MS });

  // Its port is gone with it, so the network can be deleted.
  await t.go("/networks");
  t.confirmNext();
  await page.locator('#networks tr[data-network="net1"]').getByRole("button", { name: "Delete" }).click();
  await t.expectFlash(/The network was deleted/);
  assert.equal(await page.locator('#networks tr[data-network="net1"]').count(), 0);
  await page.locator("#no-networks").waitFor();
  await t.logout();
});
