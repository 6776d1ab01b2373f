// A test server with its web port open and a headless Chromium page on it: what every test of
// the web page starts from.
import type { Browser } from 'playwright-core';
import { startTestPacs, type TestPacs } from './pacs.js';
import { launchBrowser, newPage, saveScreenshot, type WatchedPage } from './browser.js';

export interface PageOnPacs {
  pacs: TestPacs;
  /** http://127.0.0.1:PORT of the server's web side. */
  base: string;
  browser: Browser;
  w: WatchedPage;
  /** A screenshot and the page's problems, for an assertion's message. */
  failed(name: string): Promise<string>;
  close(): Promise<void>;
}

export async function pageOnPacs(overrides: Record<string, unknown> = {}): Promise<PageOnPacs> {
  const pacs = await startTestPacs({ http: { enabled: true, port: 0, host: '127.0.0.1' }, ...overrides } as Parameters<typeof startTestPacs>[0]);
  const address = pacs.server.httpServer!.server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const browser = await launchBrowser();
  const w = await newPage(browser);
  return {
    pacs,
    base,
    browser,
    w,
    failed: async (name) => `screenshot: ${await saveScreenshot(w.page, name)}; problems: ${w.problems.join(' | ')}`,
    close: async () => {
      await browser.close();
      await pacs.stop();
    },
  };
}
