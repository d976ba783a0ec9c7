// End-to-end test of the web app in a real browser: Debian's chromium, headless, driven by
// playwright-core, against the `encore` binary serving on a free port with a fresh data dir.
//
// ENCORE_BIN (default: $CARGO_TARGET_DIR/debug/encore, else ../../target/debug/encore) is the
// binary; ENCORE_ARTIFACTS (default: <target dir>/browser-artifacts) receives screenshots;
// CHROMIUM (default /usr/bin/chromium) is the browser.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const targetDir = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : resolve(here, '../../target');
const BIN = process.env.ENCORE_BIN || join(targetDir, 'debug', 'encore');
const ARTIFACTS = resolve(process.env.ENCORE_ARTIFACTS || join(targetDir, 'browser-artifacts'));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const PASSWORD = 'a long enough password';
const ADMIN = { email: 'admin@example.org', password: 'an admin password here' };
const CREATOR = { email: 'creator@example.org', name: 'Ada Lovelace' };
const SONG_S = 24; // the fixture is cut to this many seconds

let work; // temp dir
let server; // child process
let base; // http://127.0.0.1:PORT
let browser;
let fixture; // {wav, lrc, lines}

function sh(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], ...opts });
}

/** A song with lyrics and known line times: `encore lyrics synth` (eSpeak-NG words over
 * FluidSynth music), cut to SONG_S seconds with sox, lyrics written as LRC. */
function makeFixture(dir) {
  const synth = join(dir, 'synth');
  sh(BIN, ['lyrics', 'synth', synth, '--langs', 'en', '--songs', '1', '--seed', '3']);
  const wav = join(dir, 'morning-sky.wav');
  sh('sox', [join(synth, 'audio', 'synth_en_00.wav'), wav, 'trim', '0', String(SONG_S)]);
  const csv = readFileSync(join(synth, 'annotations', 'lines', 'synth_en_00.csv'), 'utf8').trim().split('\n').slice(1);
  const lines = csv.map((row) => {
    const [start, end, ...text] = row.split(',');
    return { start: Number(start), end: Number(end), text: text.join(',') };
  }).filter((l) => l.end < SONG_S - 1);
  const stamp = (s) => `${String(Math.floor(s / 60)).padStart(2, '0')}:${(s % 60).toFixed(2).padStart(5, '0')}`;
  // One line after the audio's end (as an LRC of a longer recording would have): the studio
  // says so once the lyrics step ran.
  const lrc = [...lines.map((l) => `[${stamp(l.start)}]${l.text}`), '[09:00.00]a line from a longer recording'].join('\n');
  assert.ok(lines.length >= 3, `fixture has ${lines.length} lines`);
  return { wav, lrc, lines };
}

before(async () => {
  assert.ok(existsSync(BIN), `no encore binary at ${BIN} (build it with cargo build -p encore-cli)`);
  work = mkdtempSync(join(tmpdir(), 'encore-browser-'));
  mkdirSync(ARTIFACTS, { recursive: true });
  fixture = makeFixture(work);
  const data = join(work, 'data');
  sh(BIN, ['admin', 'create', '--email', ADMIN.email, '--data', data], { env: { ...process.env, ENCORE_ADMIN_PASSWORD: ADMIN.password } });
  server = spawn(BIN, ['serve', '--data', data, '--listen', '127.0.0.1:0', '--workers', '2'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  base = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`encore serve did not start:\n${log}`)), 60_000);
    server.stderr.on('data', (d) => {
      log += d;
      const m = log.match(/serving (http:\/\/[0-9.:]+)/);
      if (m) { clearTimeout(timer); ok(m[1]); }
    });
    server.on('exit', (code) => fail(new Error(`encore serve exited with ${code}:\n${log}`)));
  });
  server.stderr.on('data', (d) => { log = (log + d).slice(-20000); });
  server.log = () => log;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // Playwright gives every launch a fresh temporary profile (user-data dir).
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await new Promise((ok) => { server.on('exit', ok); setTimeout(ok, 10_000); });
  }
  if (work) rmSync(work, { recursive: true, force: true });
  console.log(`screenshots: ${ARTIFACTS}`);
});

/** Records navigator.vibrate calls, CSP violations and script errors in every page. */
const INIT = () => {
  window.__vibrations = [];
  window.__csp = [];
  navigator.vibrate = (pattern) => {
    window.__vibrations.push({ t: performance.now(), pattern: Array.isArray(pattern) ? pattern.slice() : pattern });
    return true;
  };
  document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
};

async function newPage(viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport, baseURL: base, acceptDownloads: true });
  await context.addInitScript(INIT);
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 40[134]/.test(m.text())) page.errors.push(m.text()); });
  return page;
}

async function clean(page, where) {
  const csp = await page.evaluate(() => window.__csp);
  assert.deepEqual(csp, [], `CSP violations on ${where}`);
  assert.deepEqual(page.errors, [], `script errors on ${where}`);
}

/** Navigates inside the app (History API, as a link click does) and waits for the page. */
async function spa(page, path) {
  await page.evaluate((p) => {
    history.pushState(null, '', p);
    dispatchEvent(new PopStateEvent('popstate'));
  }, path);
  await page.waitForFunction((p) => document.getElementById('main').dataset.path === p, path);
}

async function axe(page, where) {
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
    });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 4).map((n) => `${n.target.join(' ')}: ${n.failureSummary}`).join(' | ')}`);
  });
  assert.deepEqual(violations, [], `axe-core violations on ${where}`);
}

async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Care-mode measurements on the visible page: text sizes, line spacing, contrast, targets. */
async function measureCare(page, where) {
  const m = await page.evaluate(() => {
    const visible = (el) => {
      const r = el.getBoundingClientRect();
      if (r.width <= 1 || r.height <= 1) return false;
      return el.checkVisibility({ checkOpacity: true, checkVisibilityCSS: true });
    };
    const rgb = (s) => {
      const m = s.match(/rgba?\(([^)]+)\)/);
      if (!m) return null;
      const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
      return { r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1 };
    };
    const lum = ({ r, g, b }) => {
      const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const over = (top, below) => ({
      r: top.r * top.a + below.r * (1 - top.a),
      g: top.g * top.a + below.g * (1 - top.a),
      b: top.b * top.a + below.b * (1 - top.a),
      a: 1,
    });
    const background = (el) => {
      const layers = [];
      for (let e = el; e; e = e.parentElement) {
        const c = rgb(getComputedStyle(e).backgroundColor);
        if (c && c.a > 0) { layers.push(c); if (c.a >= 1) break; }
      }
      let bg = { r: 255, g: 255, b: 255, a: 1 };
      for (const c of layers.reverse()) bg = over(c, bg);
      return bg;
    };
    const texts = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (!n.textContent.trim()) continue;
      const el = n.parentElement;
      if (!el || !visible(el) || el.closest('.visually-hidden, noscript, option')) continue;
      const cs = getComputedStyle(el);
      const size = parseFloat(cs.fontSize);
      const lh = cs.lineHeight === 'normal' ? 0 : parseFloat(cs.lineHeight) / size;
      const fg = over(rgb(cs.color), background(el));
      const bg = background(el);
      const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
      texts.push({ text: n.textContent.trim().slice(0, 30), tag: el.tagName, size, lh, contrast: (hi + 0.05) / (lo + 0.05) });
    }
    const targets = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary, [role=switch], [tabindex="0"]')]
      .filter((el) => visible(el) && !el.classList.contains('skip-link'))
      .map((el) => { const r = el.getBoundingClientRect(); return { what: `${el.tagName} ${(el.textContent || el.getAttribute('aria-label') || el.type || '').trim().slice(0, 30)}`, w: r.width, h: r.height }; });
    return { texts, targets, care: document.documentElement.classList.contains('care') };
  });
  assert.ok(m.care, `care mode is on at ${where}`);
  assert.ok(m.texts.length > 3, `text found on ${where}`);
  const small = m.texts.filter((t) => t.size < 18);
  assert.deepEqual(small, [], `text under 18 px on ${where}`);
  const largest = Math.max(...m.texts.map((t) => t.size));
  assert.ok(largest >= 30, `largest text ${largest} px on ${where}`);
  const tight = m.texts.filter((t) => !(t.lh >= 1.3));
  assert.deepEqual(tight, [], `line spacing under 1.3 on ${where}`);
  const faint = m.texts.filter((t) => t.contrast < 4.5);
  assert.deepEqual(faint, [], `contrast under 4.5:1 on ${where}`);
  const tiny = m.targets.filter((t) => t.w < 59.5 || t.h < 59.5);
  assert.deepEqual(tiny, [], `touch targets under 60x60 px on ${where}`);
  assert.ok(m.targets.length > 0);
  return m;
}

async function noHorizontalScroll(page, where) {
  const { sw, cw } = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, cw: document.documentElement.clientWidth }));
  assert.ok(sw <= cw + 1, `${where}: page is ${sw} px wide in a ${cw} px window`);
}

async function login(page, { email, password }) {
  await page.goto('/login');
  await page.getByLabel('E-mail address').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForFunction(() => document.getElementById('main').dataset.path !== '/login');
}

const state = {};

test('the web app end to end', { timeout: 900_000 }, async (tt) => {
  // Steps depend on each other: after a failure the rest are skipped, not failed again.
  let failed = null;
  const t = {
    test: (name, fn) => tt.test(name, async (st) => {
      if (failed) { st.skip(`after the failure of: ${failed}`); return; }
      try { await fn(st); } catch (e) { failed = name; throw e; }
    }),
  };
  const page = await newPage();
  const doc = await (await fetch(`${base}/api/openapi.json`)).json();
  const has = (path) => Boolean(doc.paths[path]);

  await t.test('pages are served with a strict CSP, caching and the SPA fallback', async () => {
    const r = await fetch(`${base}/studio/works/anything`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /text\/html/);
    const csp = r.headers.get('content-security-policy');
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    const html = await r.text();
    const asset = html.match(/\/assets\/[0-9a-f]{16}\/js\/app\.js/)[0];
    const a = await fetch(base + asset);
    assert.match(a.headers.get('content-type'), /text\/javascript/);
    assert.match(a.headers.get('cache-control'), /immutable/);
    const again = await fetch(base + asset, { headers: { 'If-None-Match': a.headers.get('etag') } });
    assert.equal(again.status, 304);
    const api404 = await fetch(`${base}/api/nope`);
    assert.equal(api404.status, 404);
    assert.equal((await api404.json()).error.code, 'no_route');
  });

  await t.test('keyboard: the skip link comes first', async () => {
    await page.goto('/');
    await page.waitForSelector('main h1');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.className), 'skip-link');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    const inMain = await page.evaluate(() => document.getElementById('main').contains(document.activeElement));
    assert.ok(inMain, 'after the skip link, Tab moves into the main content');
  });

  await t.test('sign up as a creator', async () => {
    await page.getByRole('link', { name: 'Sign up' }).click();
    await page.getByLabel('E-mail address').fill(CREATOR.email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Creator: upload and publish my music').check();
    await page.getByLabel('Creator name').fill(CREATOR.name);
    await shot(page, 'signup');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.waitForFunction(() => document.getElementById('main').dataset.path === '/studio');
    const me = await page.evaluate(() => fetch('/api/me').then((r) => r.json()));
    assert.equal(me.role, 'creator');
    assert.equal(me.care_mode, false);
    state.creatorId = me.creator.id;
  });

  await t.test('upload a song with lyrics, with progress', async () => {
    await page.getByRole('link', { name: 'Upload a work' }).click();
    await page.getByLabel('Audio file').setInputFiles(fixture.wav);
    await page.getByLabel('Title').fill('Morning Sky');
    await page.getByLabel('Lyrics', { exact: true }).fill(fixture.lrc);
    await page.getByLabel('Genre').fill('Synth pop');
    // Slow the upload down so its progress can be seen (XHR upload events).
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 1_500_000 });
    const seen = page.waitForFunction(() => {
      const p = document.getElementById('upload-progress');
      return p && p.value > 0 && p.value < 100 && /Uploaded \d+ %/.test(document.getElementById('upload-status').textContent);
    }, null, { timeout: 30_000, polling: 50 });
    await page.getByRole('button', { name: 'Upload' }).click();
    await seen;
    await page.waitForURL(/\/studio\/works\//, { timeout: 60_000 });
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    state.workId = page.url().split('/').pop();
  });

  await t.test('each processing step is shown until the work is ready', async () => {
    await page.waitForSelector('#jobs tbody tr');
    const steps = await page.$$eval('#jobs tbody tr', (rows) => rows.map((r) => r.dataset.step));
    assert.ok(steps.includes('analyse'), `steps: ${steps}`);
    state.steps = steps;
    await page.waitForFunction(() => /Status: (ready|held|failed)/.test(document.getElementById('work-status').textContent), null, { timeout: 600_000, polling: 500 });
    const status = await page.textContent('#work-status');
    assert.match(status, /Status: ready/, `${status}\n${server.log().slice(-3000)}`);
    const cells = await page.$$eval('#jobs tbody td.status-done', (c) => c.length);
    assert.equal(cells, steps.length, 'every step is done');
    if (steps.includes('lyrics')) {
      const note = await page.textContent('#jobs tr[data-step=lyrics] td:last-child');
      assert.match(note, /1 lyric line starts after the audio ends/);
    }
    if (has('/api/works/{id}/matches')) {
      await page.waitForFunction(() => /matched|match search/.test(document.querySelector('[aria-labelledby=matches-h]').textContent));
      assert.match(await page.textContent('[aria-labelledby=matches-h]'), /No other work matched/);
    }
    if (has('/api/works/{id}/certificate')) {
      const link = page.locator('#certificate-link');
      await link.waitFor();
      const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
      const file = await download.path();
      assert.ok(readFileSync(file).length > 100, 'the certificate was downloaded');
    }
    await shot(page, 'studio-work');
  });

  await t.test('publish', async () => {
    await page.getByRole('button', { name: 'Publish' }).click();
    await page.getByText('Published.').waitFor();
    const w = await page.evaluate((id) => fetch(`/api/works/${id}`).then((r) => r.json()), state.workId);
    assert.equal(w.published, true);
  });

  await t.test('play: the bar keeps playing across navigation', async () => {
    await page.getByRole('link', { name: 'Open the public page' }).click();
    await page.waitForFunction(() => (document.getElementById('main').dataset.path || '').startsWith('/works/'));
    await page.getByRole('button', { name: 'Play Morning Sky' }).click();
    await page.waitForFunction(() => document.querySelector('#player-bar audio').currentTime > 0.5, null, { timeout: 20_000 });
    await page.evaluate(() => { window.__audio = document.querySelector('#player-bar audio'); });
    const before = await page.evaluate(() => window.__audio.currentTime);
    await page.getByRole('link', { name: 'Full player', exact: true }).click();
    await page.waitForFunction(() => document.getElementById('main').dataset.path === '/player');
    await page.waitForTimeout(700);
    const after = await page.evaluate(() => ({
      same: document.querySelector('#player-bar audio') === window.__audio,
      t: window.__audio.currentTime,
      paused: window.__audio.paused,
    }));
    assert.ok(after.same && !after.paused && after.t > before, `playback continued: ${JSON.stringify(after)} (before ${before})`);
    const meta = await page.evaluate(() => navigator.mediaSession.metadata && navigator.mediaSession.metadata.title);
    assert.equal(meta, 'Morning Sky', 'Media Session metadata');
  });

  await t.test('synced lyrics highlight the current line and seek on click', async () => {
    await page.waitForSelector('.lyric-line');
    const lines = fixture.lines;
    // Click the second line: playback jumps to its start and it becomes current.
    await page.locator('.lyric-line').nth(1).click();
    await page.waitForFunction(() => document.querySelector('.lyric-line.current')?.dataset.index === '1', null, { timeout: 5000 });
    const t1 = await page.evaluate(() => document.querySelector('#player-bar audio').currentTime);
    assert.ok(Math.abs(t1 - lines[1].start) < 1.0, `seeked to ${t1}, line starts at ${lines[1].start}`);
    // Playback moves the highlight to the next line on its own.
    await page.waitForFunction(() => document.querySelector('.lyric-line.current')?.dataset.index === '2', null, { timeout: (lines[2].start - lines[1].start + 5) * 1000 });
    const t2 = await page.evaluate(() => document.querySelector('#player-bar audio').currentTime);
    assert.ok(t2 >= lines[2].start - 0.3, `line 2 lit at ${t2}, starts at ${lines[2].start}`);
    assert.equal(await page.locator('.lyric-line[aria-current="true"]').count(), 1);
    const lyr = await page.evaluate((id) => fetch(`/api/works/${id}/lyrics`).then((r) => r.json()), state.workId);
    if (state.steps.includes('lyrics')) assert.ok(lyr.aligned, 'the lyrics step aligned the words');
    if (lyr.aligned) {
      // Karaoke: the current word is highlighted and the highlight moves on to later words.
      const word = () => page.evaluate(() => document.querySelector('.lyric-line.current .word.current-word')?.dataset.start);
      await page.waitForSelector('.lyric-line.current .word.current-word', { timeout: 10_000 });
      const first = Number(await word());
      await page.waitForFunction((s) => {
        const w = document.querySelector('.lyric-line.current .word.current-word');
        return w && Number(w.dataset.start) > s;
      }, first, { timeout: 10_000 });
      const t = await page.evaluate(() => document.querySelector('#player-bar audio').currentTime);
      const lit = Number(await word());
      assert.ok(lit <= t + 0.1, `the lit word starts at ${lit}, playback is at ${t}`);
    }
    await shot(page, 'player');
  });

  await t.test('visualisation canvas follows the music', async () => {
    if (!has('/api/works/{id}/visualization')) {
      console.log('SKIP visualisation: the server has no /api/works/{id}/visualization yet');
      return;
    }
    const canvas = page.locator('canvas.viz');
    await canvas.waitFor();
    const sample = () => page.evaluate(() => {
      const c = document.querySelector('canvas.viz');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let sum = 0;
      for (let i = 0; i < d.length; i += 97) sum += d[i];
      return sum;
    });
    const a = await sample();
    await page.waitForTimeout(600);
    const b = await sample();
    assert.notEqual(a, b, 'the canvas changes while playing');
  });

  await t.test('haptics: navigator.vibrate gets the track pattern; switch and intensity', async () => {
    if (!has('/api/works/{id}/haptics/{format}')) {
      console.log('SKIP haptics: the server has no /api/works/{id}/haptics/{format} yet');
      return;
    }
    const track = await page.evaluate((id) => fetch(`/api/works/${id}/haptics/web`).then((r) => r.json()), state.workId);
    assert.equal(track.format, 'encore-web-vibration');
    assert.ok(track.segments.length > 0);
    const sw = page.getByRole('switch', { name: 'Vibrate with the music' });
    if ((await sw.getAttribute('aria-checked')) !== 'true') await sw.click();
    await page.getByText(/Haptics are on/).waitFor();
    // Play from just before a segment and expect exactly its pattern.
    const seg = track.segments.find((s) => s.start_ms > 2000 && s.start_ms < (SONG_S - 4) * 1000) || track.segments[0];
    await page.evaluate((s) => { window.__vibrations.length = 0; document.querySelector('#player-bar audio').currentTime = Math.max(0, s.start_ms / 1000 - 0.5); }, seg);
    await page.waitForFunction((p) => window.__vibrations.some((v) => JSON.stringify(v.pattern) === p), JSON.stringify(seg.pattern), { timeout: 10_000 });
    // Half intensity: every "on" time is halved (rounded), the rest goes to "off".
    await page.locator('#haptics-intensity').fill('50');
    await page.locator('#haptics-intensity').dispatchEvent('change');
    const half = [];
    for (let i = 0; i < seg.pattern.length; i += 2) {
      const on = Math.round(seg.pattern[i] * 0.5);
      half.push(on);
      if (i + 1 < seg.pattern.length) half.push(seg.pattern[i + 1] + seg.pattern[i] - on);
    }
    await page.evaluate((s) => { window.__vibrations.length = 0; document.querySelector('#player-bar audio').currentTime = Math.max(0, s.start_ms / 1000 - 0.5); }, seg);
    await page.waitForFunction((p) => window.__vibrations.some((v) => JSON.stringify(v.pattern) === p), JSON.stringify(half), { timeout: 10_000 });
    // Off: no more pattern calls.
    await sw.click();
    await page.evaluate(() => { window.__vibrations.length = 0; document.querySelector('#player-bar audio').currentTime = 1; });
    await page.waitForTimeout(1500);
    const calls = await page.evaluate(() => window.__vibrations.filter((v) => Array.isArray(v.pattern)).length);
    assert.equal(calls, 0, 'no vibration while the switch is off');
    await page.locator('#haptics-intensity').fill('100');
    await page.locator('#haptics-intensity').dispatchEvent('change');
    // Downloads for native apps.
    for (const [name, check] of [['Download AHAP (Apple)', (j) => j.Version === 1 && Array.isArray(j.Pattern)], ['Download Android track', (j) => j.format === 'encore-android-haptics']]) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name }).click()]);
      assert.ok(check(JSON.parse(readFileSync(await download.path(), 'utf8'))), name);
    }
  });

  await t.test('keyboard control', async () => {
    const audio = () => page.evaluate(() => { const a = document.querySelector('#player-bar audio'); return { t: a.currentTime, paused: a.paused, volume: a.volume }; });
    await page.locator('main h1').focus();
    if ((await audio()).paused) await page.keyboard.press('Space');
    await page.keyboard.press('Space');
    assert.equal((await audio()).paused, true, 'Space pauses');
    await page.keyboard.press('Space');
    await page.waitForFunction(() => !document.querySelector('#player-bar audio').paused);
    await page.keyboard.press('0');
    const t0 = (await audio()).t;
    assert.ok(t0 < 1, `0 goes to the start (${t0})`);
    await page.keyboard.press('ArrowRight');
    const t5 = (await audio()).t;
    assert.ok(t5 >= 4.9 && t5 < 7, `ArrowRight goes forward 5 s (${t0} -> ${t5})`);
    await page.keyboard.press('-');
    assert.ok((await audio()).volume < 0.95, 'minus lowers the volume');
    await page.keyboard.press('+');
    // The bar's controls work from the keyboard too.
    await page.getByRole('button', { name: 'Pause' }).focus();
    await page.keyboard.press('Enter');
    assert.equal((await audio()).paused, true, 'Enter on the Pause button');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => !document.querySelector('#player-bar audio').paused);
  });

  await t.test('a finished play is recorded with POST /api/plays', async () => {
    const posted = page.waitForResponse((r) => r.url().endsWith('/api/plays') && r.request().method() === 'POST', { timeout: 30_000 });
    await page.evaluate(() => { const a = document.querySelector('#player-bar audio'); a.currentTime = a.duration - 2.5; });
    const r = await posted;
    assert.equal(r.status(), 201);
    const body = JSON.parse(r.request().postData());
    assert.equal(body.work_id, state.workId);
    assert.ok(body.listened_ms >= 1000, `listened ${body.listened_ms} ms`);
  });

  const creatorPages = () => [
    ['/', 'home'], ['/search?q=sky', 'search'], [`/works/${state.workId}`, 'work'], [`/creators/${state.creatorId}`, 'creator'],
    ['/player', 'player'], ['/studio', 'studio'], ['/studio/upload', 'upload'], [`/studio/works/${state.workId}`, 'studio-work'],
    ['/account', 'account'], ['/no/such/page', 'not-found'],
  ];

  await t.test('axe-core finds nothing on any page (normal mode)', async () => {
    await page.evaluate(() => document.querySelector('#player-bar audio').play());
    for (const [path, name] of creatorPages()) {
      await spa(page, path);
      await axe(page, path);
      await shot(page, `normal-${name}`);
    }
    await clean(page, 'the creator session');
  });

  await t.test('care mode: one tap, measured in the DOM, axe-clean, remembered', async () => {
    await spa(page, '/');
    await page.getByRole('button', { name: 'Care mode' }).click();
    assert.equal(await page.getByRole('button', { name: 'Care mode' }).getAttribute('aria-pressed'), 'true');
    // Simpler navigation and no promotions.
    const nav = await page.$$eval('#nav-list a', (as) => as.map((a) => a.textContent));
    assert.ok(!nav.includes('Studio') && nav.length <= 4, `care navigation: ${nav}`);
    assert.equal(await page.locator('.promo').isVisible(), false);
    for (const [path, name] of creatorPages()) {
      await spa(page, path);
      await measureCare(page, path);
      await axe(page, `${path} (care mode)`);
      await shot(page, `care-${name}`);
    }
    // Remembered on the device (reload) and on the account (a fresh browser profile).
    await page.reload();
    await page.waitForSelector('main h1');
    assert.ok(await page.evaluate(() => document.documentElement.classList.contains('care')));
    const me = await page.evaluate(() => fetch('/api/me').then((r) => r.json()));
    assert.equal(me.care_mode, true);
    const other = await newPage();
    await login(other, { email: CREATOR.email, password: PASSWORD });
    assert.ok(await other.evaluate(() => document.documentElement.classList.contains('care')), 'care mode follows the account');
    await other.context().close();
    await clean(page, 'care mode');
  });

  await t.test('phone width (360 px) in both modes', async () => {
    const phone = await newPage({ width: 360, height: 740 });
    await login(phone, { email: CREATOR.email, password: PASSWORD });
    await phone.evaluate((id) => fetch(`/api/works/${id}`).then((r) => r.json()), state.workId);
    for (const care of [true, false]) {
      const on = await phone.evaluate(() => document.documentElement.classList.contains('care'));
      if (on !== care) await phone.getByRole('button', { name: 'Care mode' }).click();
      for (const [path, name] of creatorPages()) {
        await spa(phone, path);
        if (path.startsWith('/works/') && !(await phone.locator('#player-bar').isVisible())) {
          await phone.getByRole('button', { name: 'Play Morning Sky' }).click();
        }
        await noHorizontalScroll(phone, `${path} at 360 px`);
        if (care) await measureCare(phone, `${path} at 360 px`);
        await axe(phone, `${path} at 360 px${care ? ' (care mode)' : ''}`);
        if (['home', 'player', 'work', 'studio-work', 'account'].includes(name)) await shot(phone, `phone-${care ? 'care' : 'normal'}-${name}`);
      }
    }
    await clean(phone, 'the phone session');
    await phone.context().close();
  });

  await t.test('signed out pages and the admin area, both modes', async () => {
    const anon = await newPage();
    for (const care of [false, true]) {
      await anon.goto('/login');
      await anon.waitForSelector('main h1');
      const on = await anon.evaluate(() => document.documentElement.classList.contains('care'));
      if (on !== care) await anon.getByRole('button', { name: 'Care mode' }).click();
      for (const [path, name] of [['/login', 'login'], ['/signup', 'signup'], ['/', 'home-anonymous']]) {
        await spa(anon, path);
        if (care) await measureCare(anon, path);
        await axe(anon, `${path}${care ? ' (care mode)' : ''}`);
        await shot(anon, `${care ? 'care' : 'normal'}-${name}`);
      }
    }
    await clean(anon, 'signed out');
    await anon.context().close();

    const admin = await newPage();
    await login(admin, ADMIN);
    for (const care of [false, true]) {
      const on = await admin.evaluate(() => document.documentElement.classList.contains('care'));
      if (on !== care) await admin.getByRole('button', { name: 'Care mode' }).click();
      await spa(admin, '/admin');
      await admin.waitForSelector('#users');
      const emails = await admin.$$eval('#users tbody th', (c) => c.map((x) => x.textContent));
      assert.ok(emails.includes(CREATOR.email) && emails.includes(ADMIN.email), `users: ${emails}`);
      assert.ok(await admin.locator('#job-stats').isVisible());
      if (care) await measureCare(admin, '/admin');
      await axe(admin, `/admin${care ? ' (care mode)' : ''}`);
      await shot(admin, `${care ? 'care' : 'normal'}-admin`);
    }
    await clean(admin, 'admin');
    await admin.context().close();
  });

  await page.context().close();
});
