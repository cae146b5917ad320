// Drives `cairn configure` in Debian's Chromium the way a user would:
// turn a component on, fill a form, see the server's error at the field,
// fix it, review the diff, save and quit. Run by tests/e2e/configure.rs:
//
//   node configure.mjs URL SCREENSHOT_DIR
//
// Prints one JSON line: what it saw (the review's patch, CSP violations,
// console errors). Exits non-zero with the step that failed.

import { chromium } from 'playwright-core';

const [url, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
const seen = { steps: [], console: [], csp: [] };
let step = 'start';
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // Report every Content-Security-Policy violation the page meets.
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      window.__csp.push(`${e.violatedDirective}: ${e.blockedURI}`),
    );
  });
  const page = await context.newPage();
  // Every request the page makes must stay on the server it came from.
  seen.foreign = [];
  const origin = new URL(url).origin;
  page.on('request', (r) => {
    if (!r.url().startsWith(`${origin}/`) && !r.url().startsWith('data:')) seen.foreign.push(r.url());
  });
  page.on('console', (m) => {
    if (m.type() === 'error') seen.console.push(m.text());
  });
  page.on('pageerror', (e) => seen.console.push(String(e)));
  const valid = () => page.getByTestId('status').filter({ hasText: /^valid$/ }).waitFor();
  const at = (name) => {
    step = name;
    seen.steps.push(name);
  };

  at('open the page with the token');
  await page.goto(url);
  if (new URL(page.url()).search !== '') throw new Error(`the token stayed in the address: ${page.url()}`);
  await page.locator('article.tile[data-component="gateway"]').waitFor();
  await valid();
  await page.screenshot({ path: `${shots}/configure-tiles.png`, fullPage: true });

  at('browse the catalogs');
  await page.getByRole('button', { name: 'Catalogs' }).click();
  await page.locator('[data-catalog="cairn"] article[data-stack="reference"]').waitFor();
  await page.screenshot({ path: `${shots}/configure-catalogs.png`, fullPage: true });
  await page.getByRole('button', { name: '← All components' }).click();

  at('turn oauth2-proxy on');
  const oauth = page.locator('article.tile[data-component="oauth2-proxy"]');
  await oauth.getByRole('switch').check();
  await oauth.getByRole('button', { name: 'Configure' }).click();
  await page.locator('.component-page[data-component="oauth2-proxy"]').waitFor();
  await page.locator('select[name="provider"]').selectOption({ label: 'gitlab' });
  await page.locator('fieldset[data-field="emailDomains"]').getByRole('button', { name: 'Add' }).click();
  await page.locator('input[name="emailDomains[1]"]').fill('example.org');
  await valid();
  await page.getByRole('button', { name: '← All components' }).click();

  at('a nested option');
  await page.locator('article.tile[data-component="cert-manager"]').getByRole('button', { name: 'Configure' }).click();
  await page.locator('fieldset[data-field="issuer"] select[name="issuer.server"]').selectOption({ label: 'staging' });
  await valid();
  await page.getByRole('button', { name: '← All components' }).click();

  at('a secret takes a reference, never a value');
  await page.locator('article.tile[data-component="grafana"]').getByRole('button', { name: 'Configure' }).click();
  const secret = page.locator('[data-field="adminPassword"]');
  seen.secretInputs = await secret.locator('input[type="password"], input:not([name])').count();
  await secret.getByLabel('adminPassword: where the secret is').selectOption('env');
  await secret.locator('input[name="adminPassword"]').fill('CAIRN_TEST_UNSET_PASSWORD');
  const secretProblem = secret.locator('[data-problems="adminPassword"]');
  await secretProblem.waitFor();
  seen.secretError = await secretProblem.innerText();
  await secret.getByLabel('adminPassword: where the secret is').selectOption('');
  await secretProblem.waitFor({ state: 'detached' });
  await valid();
  await page.getByRole('button', { name: '← All components' }).click();

  at('a wrong value gets the server\'s message at its field');
  await page.locator('article.tile[data-component="gateway"]').getByRole('button', { name: 'Configure' }).click();
  const domain = page.locator('input[name="domain"]');
  await domain.fill('Not A Domain');
  const problem = page.locator('[data-field="domain"] [data-problems="domain"]');
  await problem.waitFor();
  seen.fieldError = await problem.innerText();
  await page.screenshot({ path: `${shots}/configure-component.png`, fullPage: true });

  at('fix it');
  await domain.fill('apps.example.org');
  await problem.waitFor({ state: 'detached' });
  await valid();

  at('review');
  await page.getByRole('button', { name: 'Review' }).click();
  const diff = page.getByTestId('diff');
  await diff.waitFor();
  seen.patch = await diff.innerText();
  await page.screenshot({ path: `${shots}/configure-review.png`, fullPage: true });

  at('save and quit');
  await page.getByRole('button', { name: 'Save and quit' }).click();
  await page.getByTestId('closed').waitFor();
  seen.closed = await page.getByTestId('closed').innerText();
  seen.csp = await page.evaluate(() => window.__csp);
  await context.close();
  process.stdout.write(`${JSON.stringify(seen)}\n`);
} catch (err) {
  for (const page of browser.contexts().flatMap((c) => c.pages())) {
    seen.notice = await page.getByTestId('notice').innerText({ timeout: 1000 }).catch(() => null);
    await page.screenshot({ path: `${shots}/configure-failed.png`, fullPage: true }).catch(() => {});
  }
  process.stdout.write(`${JSON.stringify({ ...seen, failed: step, error: String(err) })}\n`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
