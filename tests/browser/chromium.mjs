// Headless Debian Chromium for the browser tests, through playwright-core: a throw-away profile, a page,
// and, at the end, a screenshot and the profile gone.
import { mkdtemp, rm, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium } from 'playwright-core';

// A page of a fresh browser, and what ends it: `close(screenshot)` saves the page's screenshot (a
// failure to do so is not the test's), closes the browser and removes its profile.
export async function openPage(viewport) {
  const profile = await mkdtemp(join(tmpdir(), 'route256-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    viewport,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(20_000);
  const close = async (screenshot) => {
    await mkdir(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true }).catch(() => {});
    await context.close();
    await rm(profile, { recursive: true, force: true });
  };
  return { page, close };
}

// Ends the test: its failure, with where the screenshot is, or the screenshot's path.
export function finish(failure, screenshot) {
  if (failure) {
    console.error(`browser test failed (screenshot: ${screenshot}): ${failure.stack ?? failure}`);
    process.exit(1);
  }
  console.log(`screenshot: ${screenshot}`);
}
