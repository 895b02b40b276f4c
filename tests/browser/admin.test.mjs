// The admin's pages: flavors, projects and their quotas, users, role
// assignments; each created, changed and removed as a person would, and
// bad input answered on the page in the dashboard's words.
import { test } from "node:test";
import assert from "node:assert/strict";
import { useStack, createFlavor, ADMIN_PASSWORD } from "./harness.mjs";

const t = useStack("admin");
const row = (table, text) => t.page.locator(`#${table} tr`, { hasText: text });
// A number field turned into a text field, as an old page or a hand-made
// request would send it.
const asText = (locator) => locator.evaluate((e) => { e.type = "text"; });

test("flavors: created, and a non-number is named on the page", async () => {
  await t.loginOk("admin", ADMIN_PASSWORD);
  await createFlavor(t, "m1.tiny", 256);
  await t.shot("flavors");
  await t.page.locator("#flavor-name").fill("m1.bad");
  await asText(t.page.getByLabel("vCPUs"));
  await t.page.getByLabel("vCPUs").fill("two");
  await t.page.getByRole("button", { name: "Create flavor" }).click();
  await t.expectFlash(/vCPUs must be a whole number of at least 1/);
  assert.equal(await row("flavors", "m1.bad").count(), 0);
});

test("projects: created, quota set (and refused when not a number), edited, deleted", async () => {
  const page = t.page;
  await t.go("/identity/projects");
  await page.locator("#project-name").fill("dash-proj");
  await page.locator("#project-description").fill("made in the browser");
  await page.getByRole("button", { name: "Create project" }).click();
  await t.expectFlash(/Project dash-proj was created/);

  await page.locator('tr[data-project="dash-proj"]').getByRole("link", { name: "Quotas" }).click();
  await page.getByLabel("vCPUs").fill("30");
  await page.getByRole("button", { name: "Save quotas" }).click();
  await t.expectFlash(/quotas were saved/);
  // The page reads the quota back from the compute API.
  assert.equal(await page.getByLabel("vCPUs").inputValue(), "30");
  await asText(page.getByLabel("Instances"));
  await page.getByLabel("Instances").fill("many");
  await page.getByRole("button", { name: "Save quotas" }).click();
  await t.expectFlash(/Instances must be a whole number, -1 for unlimited/);
  await t.shot("quotas");

  await t.go("/identity/projects");
  const proj = page.locator('tr[data-project="dash-proj"]');
  await proj.getByText("Edit", { exact: true }).click();
  await proj.getByLabel("Description").fill("edited in the browser");
  await proj.getByRole("button", { name: "Save" }).click();
  await t.expectFlash(/Project dash-proj was saved/);
  await page.locator('tr[data-project="dash-proj"] td', { hasText: "edited in the browser" }).waitFor();
  await t.shot("projects");

  await page.locator("#project-name").fill("doomed-proj");
  await page.getByRole("button", { name: "Create project" }).click();
  await t.expectFlash(/Project doomed-proj was created/);
  t.confirmNext();
  await page.locator('tr[data-project="doomed-proj"]').getByRole("button", { name: "Delete" }).click();
  await t.expectFlash(/The project was deleted/);
  assert.equal(await page.locator('tr[data-project="doomed-proj"]').count(), 0);
});

test("users: created, edited (email, disabled), deleted", async () => {
  const page = t.page;
  await t.go("/identity/users");
  await page.locator("#user-name").fill("ed-user");
  await page.locator("#user-email").fill("ed@example.org");
  await page.getByLabel("Password", { exact: true }).fill("ed-user-secret");
  await page.getByRole("button", { name: "Create user" }).click();
  await t.expectFlash(/User ed-user was created/);

  const user = page.locator('tr[data-user="ed-user"]');
  await user.getByText("Edit", { exact: true }).click();
  await user.getByLabel("Email").fill("edited@example.org");
  await user.getByLabel("Enabled").uncheck();
  await user.getByRole("button", { name: "Save" }).click();
  await t.expectFlash(/User ed-user was saved/);
  const cells = await page.locator('tr[data-user="ed-user"] td').allInnerTexts();
  assert.equal(cells[1], "edited@example.org");
  assert.equal(cells[2], "no");
  await t.shot("users");

  t.confirmNext();
  await page.locator('tr[data-user="ed-user"]').getByRole("button", { name: "Delete" }).click();
  await t.expectFlash(/The user was deleted/);
  assert.equal(await page.locator('tr[data-user="ed-user"]').count(), 0);
});

test("role assignments: granted, then revoked", async () => {
  const page = t.page;
  await t.go("/identity/users");
  await page.locator("#user-name").fill("role-user");
  await page.getByLabel("Password", { exact: true }).fill("role-user-secret");
  await page.getByRole("button", { name: "Create user" }).click();
  await t.expectFlash(/User role-user was created/);

  await t.go("/identity/roles");
  await page.getByLabel("User", { exact: true }).selectOption({ label: "role-user" });
  await page.getByLabel("Project").last().selectOption({ label: "dash-proj" });
  await page.getByLabel("Role", { exact: true }).selectOption({ label: "reader" });
  await page.getByRole("button", { name: "Grant" }).click();
  await t.expectFlash(/The role was granted/);
  const assignment = row("assignments", "role-user").filter({ hasText: "reader" });
  await assignment.waitFor();
  await t.shot("roles");

  t.confirmNext();
  await assignment.getByRole("button", { name: "Revoke" }).click();
  await t.expectFlash(/The role was revoked/);
  assert.equal(await row("assignments", "role-user").count(), 0);
});
