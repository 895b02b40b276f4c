// Routers, floating IPs and the network topology through the pages: the
// admin makes an external network with a subnet (the admin's box on the
// Networks form); a member makes a network, a router with a gateway on the
// external network, adds the subnet as interface and a static route, sees
// a refused delete (the router still has an interface) leave everything
// as it was, launches an instance on the network (fake hypervisor) and
// finds router and instance linked on the topology picture; allocates a
// floating IP, associates it with the instance (seen in the list and on
// the picture), disassociates and releases it; then takes the route and
// interface away and deletes the router.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  useStack, createFlavor, createProjectWithMember, uploadImage,
  ADMIN_PASSWORD, USER_PASSWORD, STATE_DEADLINE_MS,
} from "./harness.mjs";

const t = useStack("routers");
const button = (name) => t.page.getByRole("button", { name, exact: true });
const errorFlash = () => t.page.locator(".flash.error");
const nav = (name) => t.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });
// The topology node whose accessible name starts with `name`, and its key.
const node = (name) => t.page.locator("svg.topology a", { has: t.page.locator("title", { hasText: name }) });
const nodeKey = async (name) => node(name).getAttribute("data-node");
const linked = async (a, b) => t.page.locator(`svg.topology path.link[data-from="${a}"][data-to="${b}"]`).count();

async function createNetwork(name, subnet, cidr, { external = false, dhcp = true } = {}) {
  const page = t.page;
  await t.go("/networks");
  await page.getByLabel("Network name").fill(name);
  if (external) await page.getByLabel(/External network/).check();
  await page.getByLabel("Subnet name").fill(subnet);
  await page.getByLabel("CIDR").fill(cidr);
  if (!dhcp) await page.getByLabel("DHCP enabled").uncheck();
  await button("Create network").click();
  await t.expectFlash(new RegExp(`Network ${name} was created with subnet`));
}

test("the admin sets up a flavor, an image, a project with a member and an external network", async () => {
  await t.loginOk("admin", ADMIN_PASSWORD);
  await createFlavor(t, "m1.tiny", 256);
  await uploadImage(t, "tiny-raw");
  await createProjectWithMember(t, "l3-proj", "l3-user");
  await createNetwork("public", "public-subnet", "203.0.113.0/24", { external: true, dhcp: false });
  await t.page.locator('#networks tr[data-network="public"]').getByRole("link", { name: "public" }).click();
  assert.match(await t.page.locator("dl.details").innerText(), /External\s+yes/);
  await t.logout();
});

test("a member's router gets a gateway, an interface and a static route", async () => {
  const page = t.page;
  await t.loginOk("l3-user", USER_PASSWORD);
  // The member's form has no external box.
  await t.go("/networks");
  assert.equal(await page.getByLabel(/External network/).count(), 0);
  await createNetwork("net1", "sub1", "10.0.0.0/24");

  await nav("Routers").click();
  await page.getByRole("heading", { name: "Routers", level: 1 }).waitFor();
  await page.getByLabel("Router name").fill("r1");
  await page.getByLabel("External network").selectOption({ label: "public" });
  await button("Create router").click();
  await t.expectFlash(/Router r1 was created with gateway address 203\.0\.113\.\d+\./);
  const row = page.locator('#routers tr[data-router="r1"]');
  assert.match(await row.innerText(), /r1\s+ACTIVE\s+public\s+203\.0\.113\.\d+\s+on/);
  await t.shot("routers");

  await row.getByRole("link", { name: "r1" }).click();
  await page.getByRole("heading", { name: "Router r1" }).waitFor();
  await page.getByLabel("Subnet", { exact: true }).selectOption({ label: "net1: sub1 (10.0.0.0/24)" });
  await button("Add interface").click();
  await t.expectFlash(/The interface was added/);
  const iface = page.locator('#interfaces tr[data-network="net1"]');
  assert.match(await iface.innerText(), /net1\s+sub1 10\.0\.0\.0\/24\s+10\.0\.0\.1/);
  // Attached subnets are no longer offered.
  await page.locator("#no-subnets-to-add").waitFor();
  assert.equal(await page.getByLabel("Subnet", { exact: true }).count(), 0);
  // The network's page lists the interface's port as the router's.
  await iface.getByRole("link", { name: "net1" }).click();
  await page.getByRole("heading", { name: "Network net1" }).waitFor();
  await page.locator("#ports tbody tr", { hasText: "10.0.0.1" }).getByRole("link", { name: "router" }).click();
  await page.getByRole("heading", { name: "Router r1" }).waitFor();

  await page.getByLabel("Destination CIDR").fill("10.9.0.0/16");
  await page.getByLabel("Next hop").fill("10.0.0.9");
  await button("Add route").click();
  await t.expectFlash(/The route to 10\.9\.0\.0\/16 was added/);
  assert.match(await page.locator("#routes tbody").innerText(), /10\.9\.0\.0\/16\s+10\.0\.0\.9/);

  // A next hop on no connected subnet: Neutron's refusal, nothing added.
  await page.getByLabel("Destination CIDR").fill("10.8.0.0/16");
  await page.getByLabel("Next hop").fill("192.168.1.1");
  await button("Add route").click();
  await errorFlash().waitFor();
  assert.match(await errorFlash().innerText(), /192\.168\.1\.1/);
  assert.equal(await page.locator("#routes tbody tr").count(), 1);
  await t.shot("router-detail");
});

test("deleting a router that still has an interface is refused in Neutron's words", async () => {
  const page = t.page;
  await t.go("/routers");
  t.confirmNext();
  await page.locator('#routers tr[data-router="r1"]').getByRole("button", { name: "Delete" }).click();
  await errorFlash().waitFor();
  assert.match(await errorFlash().innerText(), /still attached|in use|interface/i);
  assert.equal(await page.locator('#routers tr[data-router="r1"]').count(), 1);
  await t.go("/");
  const usage = page.locator('section[aria-labelledby="network-usage-h"]');
  assert.match(await usage.innerText(), /Routers\s+1 used of \d+/);
  assert.match(await usage.innerText(), /Networks\s+1 used of \d+/);
  await t.shot("overview-network-usage");
});

test("the topology links the router to both networks and the instance to its network", async () => {
  const page = t.page;
  await t.go("/instances");
  await button("Launch instance").click();
  const dialog = page.getByRole("dialog", { name: "Launch instance" });
  await dialog.getByLabel("Name").fill("vm-l3");
  await dialog.getByLabel("Image").selectOption({ label: "tiny-raw" });
  await dialog.getByLabel("Flavor").selectOption({ label: "m1.tiny (1 vCPU, 256 MiB RAM, 1 GB disk)" });
  await dialog.getByLabel("Networks").selectOption([{ label: "net1" }]);
  await dialog.getByRole("button", { name: "Launch" }).click();
  await t.expectFlash(/vm-l3 is being launched/);
  const row = page.locator("#instances tr", { hasText: "vm-l3" });
  await row.locator(".status[data-status=ACTIVE]").waitFor({ timeout: STATE_DEADLINE_MS });
  await row.locator(".addresses", { hasText: /^net1=10\.0\.0\.\d+$/ }).waitFor({ timeout: STATE_DEADLINE_MS });

  await nav("Network topology").click();
  await page.getByRole("heading", { name: "Network topology", level: 1 }).waitFor();
  const [ext, router, net, vm] = await Promise.all([
    nodeKey("External network public, 203.0.113.0/24"), nodeKey("Router r1"),
    nodeKey("Network net1, 10.0.0.0/24"), nodeKey("Instance vm-l3"),
  ]);
  assert.equal(await linked(ext, router), 1, "router to its gateway network");
  assert.equal(await linked(router, net), 1, "router to its interface network");
  assert.equal(await linked(net, vm), 1, "instance to its network");
  assert.equal(await page.locator("svg.topology path.link").count(), 3);
  await t.shot("topology");
  // Each node is a link to its page.
  await page.getByRole("link", { name: "Router r1" }).click();
  await page.getByRole("heading", { name: "Router r1" }).waitFor();
});

test("a floating IP is allocated, associated with the instance, disassociated and released", async () => {
  const page = t.page;
  await nav("Floating IPs").click();
  await page.getByRole("heading", { name: "Floating IPs", level: 1 }).waitFor();
  await page.getByLabel("Pool").selectOption({ label: "public" });
  await button("Allocate IP").click();
  await t.expectFlash(/Floating IP 203\.0\.113\.\d+ was allocated/);
  const address = (await t.flash()).match(/203\.0\.113\.\d+/)[0];
  const row = page.locator(`#floating-ips tr[data-address="${address}"]`);
  assert.match(await row.locator(".associated").innerText(), /not associated/);

  const choice = row.getByLabel(`Associate ${address} with`);
  const option = await choice.locator("option").first().innerText();
  assert.match(option, /^vm-l3 – 10\.0\.0\.\d+$/);
  const fixed = option.split(" – ")[1];
  await choice.selectOption({ label: option });
  await row.getByRole("button", { name: "Associate" }).click();
  await t.expectFlash(new RegExp(`Floating IP ${address.replaceAll(".", "\\.")} was associated with ${fixed.replaceAll(".", "\\.")}`));
  assert.equal(await row.locator(".associated").innerText(), `vm-l3 (${fixed})`);
  await t.shot("floating-ips");

  // The picture labels the instance with it.
  await t.go("/topology");
  const vm = node("Instance vm-l3");
  assert.equal(await vm.getAttribute("aria-label"), `Instance vm-l3, floating ${address}`);
  assert.equal(await vm.locator("text", { hasText: `floating ${address}` }).count(), 1);
  await t.shot("topology-floating-ip");

  await t.go("/floating-ips");
  t.confirmNext();
  await row.getByRole("button", { name: "Disassociate" }).click();
  await t.expectFlash(new RegExp(`Floating IP ${address.replaceAll(".", "\\.")} was disassociated`));
  assert.match(await row.locator(".associated").innerText(), /not associated/);

  t.confirmNext();
  await row.getByRole("button", { name: "Release" }).click();
  await t.expectFlash(/The floating IP was released/);
  assert.equal(await row.count(), 0);
  await page.locator("#no-floating-ips").waitFor();
});

test("the route and the interface are removed, then the router is deleted", async () => {
  const page = t.page;
  await t.go("/routers");
  await page.locator('#routers tr[data-router="r1"]').getByRole("link", { name: "r1" }).click();
  t.confirmNext();
  await page.locator("#routes tbody tr", { hasText: "10.9.0.0/16" }).getByRole("button", { name: "Remove route" }).click();
  await t.expectFlash(/The route to 10\.9\.0\.0\/16 was removed/);
  await page.locator("#no-routes").waitFor();

  t.confirmNext();
  await page.locator('#interfaces tr[data-network="net1"]').getByRole("button", { name: "Remove interface" }).click();
  await t.expectFlash(/The interface was removed/);
  await page.locator("#no-interfaces").waitFor();

  t.confirmNext();
  await button("Clear gateway").click();
  await t.expectFlash(/The gateway was cleared/);
  assert.equal(await page.locator("dd.gateway-network").innerText(), "none");

  await t.go("/routers");
  t.confirmNext();
  await page.locator('#routers tr[data-router="r1"]').getByRole("button", { name: "Delete" }).click();
  await t.expectFlash(/The router was deleted/);
  await page.locator("#no-routers").waitFor();
  await t.logout();
});
