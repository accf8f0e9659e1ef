/**
 * The demo page in headless Chromium (the Chromium of @sparticuz/chromium, driven by playwright-core: test/helpers/browser.ts): search,
 * add to the cart, kill -9 the node that served the page's last response, click again: the
 * cart is still there, now served by another node, and no error is shown. A screenshot is
 * saved to test-artifacts/shop-failover.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium } from './helpers/browser.js';
import { killAll, ROOT } from './helpers/cluster.js';
import { startShopCluster, type ShopCluster } from './helpers/shop.js';

const ARTIFACTS = path.join(ROOT, 'test-artifacts');

test('demo page in Chromium: the cart survives kill -9 of the serving node', { timeout: 90_000 }, async () => {
  let shop: ShopCluster | undefined;
  let browser: Browser | undefined;
  after(async () => {
    await browser?.close();
    await killAll();
    shop?.cluster.cleanup();
  });
  shop = await startShopCluster();
  browser = await launchChromium();
  const page = await browser.newPage();
  await page.goto(shop.proxyUrl);
  await page.fill('#q', 'teapot');
  await page.click('#search-btn');
  await page.waitForSelector('#results li');
  await page.click('#next');
  await page.waitForFunction(`document.getElementById('page-info').dataset.page === '1'`);
  await page.click('#results li:nth-child(1) button.add');
  await page.waitForSelector('#cart li.cart-line');
  await page.click('#results li:nth-child(2) button.add');
  await page.waitForFunction(`document.querySelectorAll('#cart li.cart-line').length === 2`);
  const cartBefore = await page.locator('#cart').innerText();
  const victim = (await page.locator('#node').innerText()).trim();
  assert.ok(shop.nodes.has(victim), `the page shows the serving node (${victim})`);

  const victimProcess = shop.nodes.get(victim)!;
  victimProcess.kill('SIGKILL');
  await victimProcess.exited;

  await page.click('#results li:nth-child(3) button.add');
  await page.waitForFunction(`document.querySelectorAll('#cart li.cart-line').length === 3`);
  await page.click('#next');
  await page.waitForFunction(`document.getElementById('page-info').dataset.page === '2'`);
  const nodeAfter = (await page.locator('#node').innerText()).trim();
  assert.notEqual(nodeAfter, victim, 'served by another node');
  assert.equal(await page.locator('#error').innerText(), '', 'no error shown');
  const cartAfter = await page.locator('#cart').innerText();
  for (const line of cartBefore.split('\n')) assert.ok(cartAfter.includes(line), `the cart still has "${line}"`);
  // The page says what happened.
  await page.waitForSelector('#moved:not([hidden])');
  assert.match(await page.locator('#moved').innerText(), new RegExp(`^Your session moved to ${nodeAfter}.*took it over\\. Nothing was lost\\.$`));

  // A price change shows in the result list at once.
  const firstSku = (await page.locator('#results li:nth-child(1) button.add').getAttribute('data-sku'))!;
  await page.fill('#price-sku', firstSku);
  await page.fill('#price-value', '1234.50');
  await page.click('#price-btn');
  await page.waitForFunction(`document.querySelector('#results li:nth-child(1)').textContent.includes('1234.50')`);

  // After a reload the search the session kept is shown, on its page.
  await page.reload();
  await page.waitForFunction(`document.getElementById('page-info').dataset.page === '2'`);
  assert.match(await page.locator('#page-info').innerText(), /results for "teapot", page 3 of/);
  assert.match(await page.locator('#results').innerText(), /1234\.50/);

  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'shop-failover.png'), fullPage: true });
});
