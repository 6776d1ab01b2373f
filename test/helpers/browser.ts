// Headless Chromium for the browser tests: Debian's chromium driven by playwright-core, WebGL
// through SwiftShader (no GPU here), and checks that what a page shows is an image, not a blank.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PNG } from 'pngjs';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox', // root in a container
      '--disable-dev-shm-usage',
      // Software WebGL: cornerstone draws through WebGL, and Chromium no longer falls back to SwiftShader by itself.
      '--use-gl=angle',
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
    ],
    timeout: 60_000,
  });
}

/** A page that remembers what went wrong in it (console errors, page errors, failed and 4xx/5xx requests), for failure messages. */
export interface WatchedPage {
  page: Page;
  problems: string[];
  /** URLs answered, with their status. */
  responses: { url: string; status: number }[];
}

export async function newPage(browser: Browser, size = { width: 1280, height: 800 }): Promise<WatchedPage> {
  const page = await browser.newPage({ viewport: size });
  page.setDefaultTimeout(60_000);
  const problems: string[] = [];
  const responses: { url: string; status: number }[] = [];
  page.on('console', (m) => void (m.type() === 'error' && problems.push(`console: ${m.text().slice(0, 300)}`)));
  page.on('pageerror', (e) => void problems.push(`page error: ${e.message.slice(0, 300)}`));
  page.on('requestfailed', (r) => void problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  page.on('response', (r) => {
    responses.push({ url: r.url(), status: r.status() });
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  return { page, problems, responses };
}

/**
 * Waits until an element matching `selector` shows text matching `text`. A locator, not a string
 * given to waitForFunction: the web page's Content-Security-Policy forbids eval, and Playwright
 * runs a string predicate's later checks with it.
 */
export async function waitForText(page: Page, selector: string, text: RegExp, timeout?: number): Promise<void> {
  await page.locator(selector).filter({ hasText: text }).first().waitFor(timeout === undefined ? {} : { timeout });
}

let shotDir: string | null = null;

/** Saves a screenshot under a temporary folder kept after the run; returns its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  shotDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'pacs-browser-'));
  const file = path.join(shotDir, `${name.replace(/[^\w.-]+/g, '_')}.png`);
  await page.screenshot({ path: file }).catch(() => undefined);
  return file;
}

export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface PixelStats {
  pixels: number;
  /** Mean and variance of the luminance (0–255). */
  mean: number;
  variance: number;
  /** Distinct luminance values (of 256). */
  levels: number;
  /** Share of pixels (0–1) at least mid-dark (luminance ≥ 48): what is drawn, as against a black background with text over it. */
  lit: number;
}

/** Luminance statistics of a PNG (a screenshot), over a region of it or the whole. */
export function pixelStats(png: Buffer, region?: Region): PixelStats {
  const img = PNG.sync.read(png);
  const r = region ?? { x: 0, y: 0, width: img.width, height: img.height };
  const x0 = Math.max(0, Math.floor(r.x));
  const y0 = Math.max(0, Math.floor(r.y));
  const x1 = Math.min(img.width, Math.floor(r.x + r.width));
  const y1 = Math.min(img.height, Math.floor(r.y + r.height));
  let n = 0;
  let sum = 0;
  let sumSq = 0;
  let lit = 0;
  const seen = new Set<number>();
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const i = (y * img.width + x) * 4;
      const l = Math.round(0.299 * img.data[i]! + 0.587 * img.data[i + 1]! + 0.114 * img.data[i + 2]!);
      sum += l;
      sumSq += l * l;
      seen.add(l);
      if (l >= 48) lit++;
      n++;
    }
  }
  const mean = n ? sum / n : 0;
  return { pixels: n, mean, variance: n ? sumSq / n - mean * mean : 0, levels: seen.size, lit: n ? lit / n : 0 };
}

/**
 * Whether a region shows an image rather than a blank: a real spread of grey levels over a good
 * part of it. A black canvas with the viewer's overlay text on it has hundreds of levels (the
 * text is antialiased) and some variance, but almost nothing lit; a CT slice lights a third of
 * its viewport or more.
 */
export function looksLikeImage(s: PixelStats, minVariance = 500, minLit = 0.1): boolean {
  return s.pixels > 0 && s.variance >= minVariance && s.levels >= 64 && s.lit >= minLit;
}

export const describeStats = (s: PixelStats): string =>
  `${s.pixels} pixels, mean ${s.mean.toFixed(1)}, variance ${s.variance.toFixed(1)}, ${s.levels} grey levels, ${(s.lit * 100).toFixed(1)} % lit`;
