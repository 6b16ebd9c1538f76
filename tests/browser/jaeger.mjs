// The browser test of Jaeger's web UI (`just test-browser`; scripts/browser-test.sh makes the trace).
//
// Headless Debian Chromium opens the stack's Jaeger at /trace/<id>, the trace of one call of ours, and
// expects the UI to draw it: the trace's title (the root span, cart's server span) and a row for each
// expected span's service and operation in the timeline. It also checks that the page fetched nothing
// from another origin (the UI's files are served by Jaeger itself). A screenshot is saved either way.
//
// usage: node jaeger.mjs JAEGER_URL TRACE_ID SCREENSHOT TITLE SPAN...   (SPAN: "service operation")
import { openPage, finish } from './chromium.mjs';

const [base, traceId, screenshot, title, ...spans] = process.argv.slice(2);
if (!base || !traceId || !screenshot || !title || spans.length === 0) {
  console.error('usage: node jaeger.mjs JAEGER_URL TRACE_ID SCREENSHOT TITLE SPAN...');
  process.exit(2);
}
const origin = new URL(base).origin;

const { page, close } = await openPage({ width: 1600, height: 1000 });

const offsite = [];
const errors = [];
page.on('request', (request) => {
  const url = new URL(request.url());
  if (url.protocol.startsWith('http') && url.origin !== origin) offsite.push(request.url());
});
page.on('pageerror', (error) => errors.push(error.message));

let failure = null;
try {
  await page.goto(`${base}/trace/${traceId}`);
  // the trace page's header: "<service>: <operation>" of the root span, and the trace id's head
  const header = page.locator('.TracePageHeader');
  await header.getByText(title).first().waitFor();
  await header.getByText(traceId.slice(0, 7)).first().waitFor();
  // each span's row in the timeline names its service and its operation, each exactly
  const exactly = (text) => new RegExp(`^\\s*${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`);
  for (const span of spans) {
    const [service, operation] = span.split(' ');
    const row = page
      .locator('.span-row')
      .filter({ has: page.locator('.span-svc-name', { hasText: exactly(service) }) })
      .filter({ has: page.locator('.endpoint-name', { hasText: exactly(operation) }) });
    await row.first().waitFor();
  }
  if (offsite.length > 0) throw new Error(`requests left the origin: ${offsite.join(', ')}`);
  if (errors.length > 0) throw new Error(`the page threw: ${errors.join('; ')}`);
  console.log(`jaeger ui: trace ${traceId} drawn, "${title}" with ${spans.length} spans found`);
} catch (error) {
  failure = error;
} finally {
  await close(screenshot);
}
finish(failure, screenshot);
