// The browser test of Swagger UI (`just test-browser`, scripts/browser-test.sh starts the services).
//
// Headless Debian Chromium opens cart's /swagger/, authorizes with the token through "Authorize", uses
// "Try it out" on GET /user/{user}/cart for a cart that holds items, and expects the 200 answer with the
// items' names. It also checks that the call carried the token, and that the page fetched nothing from
// another origin (Swagger UI's files are built into the service). A screenshot is saved either way.
//
// usage: node swagger.mjs BASE_URL USER TOKEN SCREENSHOT NAME...
import { openPage, finish } from './chromium.mjs';

const [base, user, token, screenshot, ...names] = process.argv.slice(2);
if (!base || !user || !token || !screenshot || names.length === 0) {
  console.error('usage: node swagger.mjs BASE_URL USER TOKEN SCREENSHOT NAME...');
  process.exit(2);
}
const origin = new URL(base).origin;

const { page, close } = await openPage({ width: 1280, height: 1600 });

const offsite = [];
const cartCalls = [];
page.on('request', (request) => {
  const url = new URL(request.url());
  if (url.protocol.startsWith('http') && url.origin !== origin) offsite.push(request.url());
  if (url.pathname === `/user/${user}/cart`) cartCalls.push(request);
});

let failure = null;
try {
  await page.goto(`${base}/swagger/`);
  await page.getByRole('button', { name: 'Authorize' }).first().click();
  const dialog = page.locator('.dialog-ux');
  const bearer = dialog.locator('.auth-container').filter({ hasText: 'bearer (http, Bearer)' });
  await bearer.locator('input').fill(token);
  // Swagger UI labels this button "Apply credentials" for screen readers; it reads "Authorize".
  await bearer.locator('button.authorize').click();
  await bearer.getByText('Authorized', { exact: true }).waitFor();
  await dialog.locator('button.close-modal').click();

  const operation = page.locator('#operations-CartService-CartService_List');
  await operation.locator('.opblock-summary').first().click();
  await operation.getByRole('button', { name: 'Try it out' }).click();
  await operation.locator('input[placeholder="user"]').fill(user);
  await operation.getByRole('button', { name: 'Execute' }).click();

  const answer = operation.locator('.live-responses-table .response').first();
  await answer.locator('.response-col_status').filter({ hasText: '200' }).waitFor();
  const body = await answer.locator('.response-col_description pre').first().innerText();
  for (const name of names) {
    if (!body.includes(name)) throw new Error(`the response does not show ${JSON.stringify(name)}:\n${body}`);
  }
  if (cartCalls.length === 0) throw new Error('Swagger UI made no call to the cart');
  const authorization = await cartCalls[0].headerValue('authorization');
  if (authorization !== `Bearer ${token}`) throw new Error(`the call carried authorization ${authorization}`);
  if (offsite.length > 0) throw new Error(`requests left the origin: ${offsite.join(', ')}`);
  console.log(`swagger ui: authorized, tried GET /user/${user}/cart, got 200 with ${names.join(', ')}`);
} catch (error) {
  failure = error;
} finally {
  await close(screenshot);
}
finish(failure, screenshot);
