// Start-up and the client-side router (History API). Pages are drawn into <main>; the player
// bar lives outside it, so playback continues across navigation.
import { session, loadMe, isStaff, ApiError } from './api.js';
import { h, replace, announce, message } from './dom.js';
import { initCare, onCareChange, careOn, deviceChoice } from './care.js';
import { initPlayer } from './player.js';
import * as browse from './pages/browse.js';
import * as nowplaying from './pages/nowplaying.js';
import * as studio from './pages/studio.js';
import * as account from './pages/account.js';
import * as admin from './pages/admin.js';
import * as auth from './pages/auth.js';

const ROUTES = [
  ['/', browse.home],
  ['/search', browse.search],
  ['/works/:id', browse.work],
  ['/creators/:id', browse.creator],
  ['/player', nowplaying.page],
  ['/studio', studio.list],
  ['/studio/upload', studio.upload],
  ['/studio/works/:id', studio.work],
  ['/account', account.page],
  ['/admin', admin.page],
  ['/login', auth.login],
  ['/signup', auth.signup],
];

function match(path) {
  const parts = path.split('/').filter(Boolean);
  for (const [pattern, page] of ROUTES) {
    const pp = pattern.split('/').filter(Boolean);
    if (pp.length !== parts.length) continue;
    const params = {};
    let ok = true;
    for (let i = 0; i < pp.length; i++) {
      if (pp[i].startsWith(':')) {
        try { params[pp[i].slice(1)] = decodeURIComponent(parts[i]); } catch { ok = false; break; }
      } else if (pp[i] !== parts[i]) { ok = false; break; }
    }
    if (ok) return { page, params };
  }
  return { page: notFound, params: {} };
}

async function notFound() {
  return {
    title: 'Page not found',
    node: h('div', {}, h('h1', {}, 'Page not found'),
      h('p', {}, 'There is no page at this address. ', h('a', { href: '/' }, 'Go to the home page'), '.')),
  };
}

let cleanup = null;
let renderSeq = 0;

/** Goes to `url` inside the app (pushes history unless `replaceState`). */
export function navigate(url, { replaceState = false } = {}) {
  if (replaceState) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  return render({ focus: true });
}

async function render({ focus }) {
  const seq = ++renderSeq;
  const main = document.getElementById('main');
  if (cleanup) { try { cleanup(); } catch { /* ignore */ } cleanup = null; }
  const url = new URL(location.href);
  const { page, params } = match(url.pathname);
  let result;
  try {
    result = await page({ params, query: url.searchParams, navigate, me: session.me });
  } catch (e) {
    console.error(e);
    const text = e instanceof ApiError && e.status === 404 ? 'Not found.' : `Something went wrong: ${e.message}`;
    result = { title: e.status === 404 ? 'Not found' : 'Error', node: h('div', {}, h('h1', {}, e.status === 404 ? 'Not found' : 'Error'), message(text)) };
  }
  if (seq !== renderSeq) { result.cleanup?.(); return; }
  replace(main, result.node);
  // The path drawn, for tests and tools waiting on a page.
  main.dataset.path = url.pathname + url.search;
  cleanup = result.cleanup || null;
  document.title = `${result.title} · Encore`;
  drawNav();
  if (focus) {
    const heading = main.querySelector('h1');
    if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: true }); } else main.focus({ preventScroll: true });
    window.scrollTo(0, 0);
    announce(result.title);
  }
}

/** Redraws the current page (after signing in or out, or a change of mode). */
export function refresh() {
  return render({ focus: false });
}

function drawNav() {
  const me = session.me;
  const care = careOn();
  const items = [['/', 'Home'], ['/search', 'Search'], ['/player', 'Now playing']];
  if (!care && me && (me.role === 'creator' || me.role === 'admin')) items.push(['/studio', 'Studio']);
  if (!care && isStaff(me)) items.push(['/admin', 'Admin']);
  if (me) items.push(['/account', 'Account']);
  else {
    items.push(['/login', 'Log in']);
    if (!care) items.push(['/signup', 'Sign up']);
  }
  const path = location.pathname;
  const current = (href) => href === '/' ? path === '/' : path === href || path.startsWith(`${href}/`);
  replace(document.getElementById('nav-list'),
    items.map(([href, label]) => h('li', {}, h('a', { href, 'aria-current': current(href) ? 'page' : false }, label))));
}

function interceptLinks() {
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = e.target.closest('a[href]');
    if (!a || a.target || a.hasAttribute('download')) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith('/api/') || url.pathname.startsWith('/assets/')) return;
    // In-page links (the skip link) keep the browser's own behaviour.
    if (url.hash && url.pathname === location.pathname && url.search === location.search) return;
    e.preventDefault();
    if (url.href === location.href) return;
    navigate(url.pathname + url.search + url.hash);
  });
  window.addEventListener('popstate', () => render({ focus: true }));
}

async function start() {
  initPlayer();
  interceptLinks();
  try { await loadMe(); } catch { session.me = null; }
  initCare();
  onCareChange(() => { drawNav(); });
  if (deviceChoice() === null && session.me?.care_mode) drawNav();
  await render({ focus: false });
}

start();
