/**
 * The admin page, on real nodes (child processes): the browser login (Basic, the secret as
 * password), the CSRF header on actions, the server-sent view of every node; and in
 * headless Chromium (the Chromium of @sparticuz/chromium, playwright-core: test/helpers/browser.ts), a cache clear clicked on the page
 * empties that cache on every node, and an application disabled there is disabled
 * everywhere. Screenshot: test-artifacts/admin-page.png.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium } from './helpers/browser.js';
import { killAll, makeCluster, ROOT, startNodes, type TestCluster } from './helpers/cluster.js';
import { eventually } from './helpers/wait.js';

const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const APPS = '<Applications><Application name="blog" enabled="1"/></Applications>';

describe('admin page', { timeout: 90_000 }, () => {
  const clusters: TestCluster[] = [];
  let browser: Browser | undefined;
  afterEach(killAll);
  after(async () => {
    await browser?.close();
    clusters.forEach((c) => c.cleanup());
  });

  const start = async () => {
    const cluster = await makeCluster({ nodes: 3, extraXml: APPS });
    clusters.push(cluster);
    await startNodes(cluster, ['node-a', 'node-b', 'node-c']);
    await eventually(async () => (await cluster.admin('node-a').json<{ members: { state: string }[] }>('GET', '/status')).members.filter((m) => m.state === 'alive').length === 3, { timeoutMs: 10_000, what: 'three alive members' });
    return cluster;
  };

  test('browser login, CSRF header, and the server-sent view of every node', async () => {
    const cluster = await start();
    const base = `http://127.0.0.1:${cluster.nodes[0]!.adminPort}`;
    const basic = `Basic ${Buffer.from(`anyone:${cluster.secret}`).toString('base64')}`;

    // The page is static (its data comes through /events, which needs the login).
    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /castmirror admin/);
    const anonymous = await fetch(`${base}/whoami`);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /Basic realm="castmirror admin"/, 'without <User> logins the browser asks for the cluster secret');
    assert.equal((await fetch(`${base}/whoami`, { headers: { authorization: `Basic ${Buffer.from('anyone:wrong-secret-value').toString('base64')}` } })).status, 401);
    assert.equal((await fetch(`${base}/events`)).status, 401);

    // An action with the browser login but without the header: what a forged cross-site form would send.
    const forged = await fetch(`${base}/caches/product/clear`, { method: 'POST', headers: { authorization: basic } });
    assert.equal(forged.status, 403);
    assert.equal(((await forged.json()) as { error: { code: string } }).error.code, 'CASTMIRROR_ADMIN_FORBIDDEN');
    const allowed = await fetch(`${base}/caches/product/clear`, { method: 'POST', headers: { authorization: basic, 'x-castmirror-admin': '1' } });
    assert.equal(allowed.status, 200);

    const controller = new AbortController();
    const events = await fetch(`${base}/events`, { headers: { authorization: basic }, signal: controller.signal });
    assert.equal(events.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const reader = events.body!.getReader();
    let text = '';
    while (!text.includes('\n\n')) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    const view = JSON.parse(/^data: (.*)$/m.exec(text)![1]!) as { node: string; nodes: { name: string; reachable: boolean }[]; members: unknown[] };
    assert.equal(view.node, 'node-a');
    assert.deepEqual(view.nodes.map((n) => [n.name, n.reachable]), [['node-a', true], ['node-b', true], ['node-c', true]]);
    assert.equal(view.members.length, 3);
  });

  test('in Chromium: a cache clear clicked on the page empties that cache on every node; an application disabled there is disabled everywhere', async () => {
    const cluster = await start();
    for (const node of ['node-a', 'node-b', 'node-c']) {
      for (const key of ['k1', 'k2']) await cluster.admin(node).json('PUT', `/caches/product/entries/${key}`, { from: node });
    }
    const size = async (node: string) => (await cluster.admin(node).json<{ size: number }>('GET', '/caches/product')).size;
    assert.deepEqual(await Promise.all(['node-a', 'node-b', 'node-c'].map(size)), [2, 2, 2]);

    browser = await launchChromium();
    const context = await browser.newContext({ httpCredentials: { username: 'admin', password: cluster.secret } });
    const page = await context.newPage();
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(`http://127.0.0.1:${cluster.nodes[1]!.adminPort}/`);
    await page.waitForFunction(`document.querySelectorAll('#members tr').length === 3 && document.querySelectorAll('#nodes tr').length === 3`);
    assert.match(await page.locator('#nodes').innerText(), /node-c/);

    await page.click('#caches tr[data-type="product"] button[data-action$="/clear"]');
    // The result shows in the card of the button clicked, not in another one.
    await page.waitForFunction(`document.querySelector('#caches').closest('section').querySelector('.message').textContent.startsWith('clear: done')`);
    assert.equal(await page.locator('#apps >> xpath=ancestor::section >> .message').innerText(), '');
    await eventually(async () => (await Promise.all(['node-a', 'node-b', 'node-c'].map(size))).every((s) => s === 0), { timeoutMs: 5000, what: 'product empty on every node' });

    await page.click('#apps tr[data-app="blog"] button:has-text("disable now")');
    await page.waitForFunction(`document.querySelector('#apps').closest('section').querySelector('.message').textContent.startsWith('disable now: done')`);
    for (const node of ['node-a', 'node-b', 'node-c']) {
      const { applications } = await cluster.admin(node).json<{ applications: { name: string; state: string }[] }>('GET', '/apps');
      assert.equal(applications.find((a) => a.name === 'blog')!.state, 'disabled', node);
    }
    await page.waitForFunction(`document.querySelector('#apps tr[data-app="blog"]').textContent.includes('disabled')`);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'admin-page.png'), fullPage: true });
    // A narrow window: one column.
    await page.setViewportSize({ width: 600, height: 900 });
    const [first, second] = await page.locator('main > section').evaluateAll((sections) => sections.slice(0, 2).map((e) => e.getBoundingClientRect().top));
    assert.ok(second! > first!, 'the cards stack');
  });

  test('admin logins of their own: read may look, operator may act; the cluster secret is not a page login; log out ends it', async () => {
    const users = '<Admin host="127.0.0.1"><User name="viewer" role="read" env="CM_TEST_VIEWER"/><User name="ops" role="operator" file="ops-password"/></Admin>';
    const cluster = await makeCluster({ nodes: 1, extraXml: `${APPS}${users}` });
    clusters.push(cluster);
    writeFileSync(path.join(cluster.dir, 'ops-password'), 'ops-password-0123456789', { mode: 0o600 });
    await startNodes(cluster, ['node-a'], { 'node-a': { CM_TEST_VIEWER: 'viewer-password-0123456789' } });
    const base = `http://127.0.0.1:${cluster.nodes[0]!.adminPort}`;
    const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

    assert.equal((await fetch(`${base}/whoami`, { headers: basic('anyone', cluster.secret) })).status, 401, 'the cluster secret is no page login once there are users');
    assert.equal((await fetch(`${base}/whoami`)).headers.get('www-authenticate'), 'Bearer realm="castmirror"', 'no Basic prompt: the page has its own form');
    assert.equal((await fetch(`${base}/status`, { headers: { authorization: `Bearer ${cluster.secret}` } })).status, 200, 'the CLI keeps the cluster secret');
    assert.deepEqual(await (await fetch(`${base}/whoami`, { headers: basic('viewer', 'viewer-password-0123456789') })).json(), { user: 'viewer', role: 'read', logins: true });
    const refused = await fetch(`${base}/caches/product/clear`, { method: 'POST', headers: { ...basic('viewer', 'viewer-password-0123456789'), 'x-castmirror-admin': '1' } });
    assert.equal(refused.status, 403);
    assert.match(((await refused.json()) as { error: { message: string } }).error.message, /role read: it may look, not act/);
    assert.equal((await fetch(`${base}/caches/product/clear`, { method: 'POST', headers: { ...basic('ops', 'ops-password-0123456789'), 'x-castmirror-admin': '1' } })).status, 200);
    assert.equal((await fetch(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'ops', password: 'nope' }) })).status, 401);
    assert.equal((await fetch(`${base}/login`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ user: 'ops', password: 'ops-password-0123456789' }) })).status, 403, 'a cross-site form cannot log in');

    browser ??= await launchChromium();
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(`${base}/`);
    await page.waitForSelector('#login:not([hidden])');
    await page.fill('#login-user', 'viewer');
    await page.fill('#login-password', 'wrong');
    await page.click('#login button[type="submit"]');
    await page.waitForFunction(`document.getElementById('login-message').textContent === 'wrong user name or password'`);
    await page.fill('#login-user', 'viewer');
    await page.fill('#login-password', 'viewer-password-0123456789');
    await page.click('#login button[type="submit"]');
    await page.waitForSelector('#caches tr[data-type="product"]');
    assert.equal(await page.locator('#user').innerText(), 'viewer (read)');
    assert.equal(await page.locator('#caches tr[data-type="product"] button[data-action$="/clear"]').isDisabled(), true, 'read: buttons disabled');
    const cookies = await context.cookies();
    const login = cookies.find((c) => c.name === 'castmirror.admin')!;
    assert.equal(login.httpOnly, true);
    assert.equal(login.sameSite, 'Strict');

    await page.click('#logout');
    await page.waitForSelector('#login:not([hidden])');
    assert.equal(await page.locator('#login-message').innerText(), 'logged out');
    // The old cookie, replayed after the logout, no longer logs in.
    assert.equal((await fetch(`${base}/whoami`, { headers: { cookie: `castmirror.admin=${login.value}` } })).status, 401);

    await page.fill('#login-user', 'ops');
    await page.fill('#login-password', 'ops-password-0123456789');
    await page.click('#login button[type="submit"]');
    await page.waitForSelector('#caches tr[data-type="product"]');
    assert.equal(await page.locator('#user').innerText(), 'ops (operator)');
    await page.click('#caches tr[data-type="product"] button[data-action$="/clear"]');
    await page.waitForFunction(`document.querySelector('#caches').closest('section').querySelector('.message').textContent.startsWith('clear: done')`);
    await context.close();
  });

  test('a cancelled browser login shows a sentence, not the API\'s JSON', async () => {
    const cluster = await makeCluster({ nodes: 1 });
    clusters.push(cluster);
    await startNodes(cluster, ['node-a']);
    browser ??= await launchChromium();
    const context = await browser.newContext(); // no credentials: the Basic prompt is dismissed
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${cluster.nodes[0]!.adminPort}/`);
    await page.waitForSelector('#denied:not([hidden])');
    assert.match(await page.locator('body').innerText(), /needs credentials: the cluster secret/);
    assert.doesNotMatch(await page.locator('body').innerText(), /CASTMIRROR_ADMIN_UNAUTHORIZED/);
    await context.close();
  });
});
