// Logging in and out, CSRF, and what a member may see: the session rules a
// person meets in the browser.
import { test } from "node:test";
import assert from "node:assert/strict";
import { useStack, createProjectWithMember, ADMIN_PASSWORD, USER_PASSWORD } from "./harness.mjs";

const t = useStack("auth");

test("a wrong password shows a clear error", async () => {
  await t.login("admin", "not-the-password");
  assert.match(await t.flash(), /Wrong user name, password or domain/);
  await t.shot("login");
});

test("a POST without the CSRF token is refused", async () => {
  await t.loginOk("admin", ADMIN_PASSWORD);
  const r = await t.context.request.post(t.url("/identity/projects"), {
    form: { name: "forged" }, maxRedirects: 0,
  });
  assert.equal(r.status(), 403);
  const wrong = await t.context.request.post(t.url("/identity/projects"), {
    form: { name: "forged", csrf: "0".repeat(64) }, maxRedirects: 0,
  });
  assert.equal(wrong.status(), 403);
  await t.go("/");
  await t.shot("overview-admin");
});

test("a member sees only their project and no admin pages; logout ends the session", async () => {
  const page = t.page;
  await createProjectWithMember(t, "auth-proj", "auth-user");
  await t.logout();
  await t.loginOk("auth-user", USER_PASSWORD);
  const projects = await page.getByLabel("Project").locator("option").allInnerTexts();
  assert.deepEqual(projects, ["auth-proj"]);
  assert.equal(await page.getByRole("link", { name: "Projects" }).count(), 0, "no admin pages");
  await page.setViewportSize({ width: 390, height: 844 });
  await t.shot("overview-phone");
  await page.setViewportSize({ width: 1280, height: 800 });
  await t.logout();
  // The session is gone: pages lead back to the login form.
  await t.go("/instances");
  assert.match(page.url(), /\/login$/);
});
