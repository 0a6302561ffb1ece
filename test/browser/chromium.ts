/**
 * Debian's Chromium driven by playwright-core: nothing is downloaded, the flags keep it off the
 * network, and Playwright gives each launch a fresh profile of its own.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

const EXECUTABLE = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(EXECUTABLE)) {
    throw new Error(`Chromium not found at ${EXECUTABLE}: install it (apt-get install chromium) or set CHROMIUM_PATH`);
  }
  return chromium.launch({
    executablePath: EXECUTABLE,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // Headless Chromium says "HeadlessChrome", which the worker sets aside as a robot's: the tests
      // stand for people, so the browser says what a desktop Chrome says.
      '--user-agent=Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36',
    ],
  });
}

/**
 * The 404s `page` meets from now on, as its console reports them, with the page's address: the
 * browser's own requests (a favicon) reach the console, not the page's network events.
 */
export function missingResources(page: Page): string[] {
  const missing: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && /\b404\b/.test(message.text())) missing.push(`${page.url()}: ${message.text()}`);
  });
  return missing;
}
