// Listening pages: home (browse), search, a work, a creator.
import { api, apiOptional } from '../api.js';
import { h, clock, spokenTime } from '../dom.js';
import { playWork } from '../player.js';

const enc = encodeURIComponent;

function artists(w) {
  return w.artists && w.artists.length ? w.artists.join(', ') : w.creator.name;
}

/** A play button for a work. */
export function playButton(w, label = 'Play') {
  return h('button', { type: 'button', class: 'primary', onclick: () => playWork(w) },
    h('span', { 'aria-hidden': 'true' }, '▶'), label,
    h('span', { class: 'visually-hidden' }, ` ${w.title}`));
}

export function workCard(w) {
  return h('li', { class: 'card' },
    w.has_cover ? h('img', { class: 'cover', src: `/api/works/${enc(w.id)}/cover`, alt: '', loading: 'lazy', width: '240', height: '240' }) : null,
    h('h3', {}, h('a', { href: `/works/${enc(w.id)}` }, w.title)),
    h('p', { class: 'meta' }, artists(w), w.audio?.duration_s ? ` · ${clock(w.audio.duration_s)}` : ''),
    h('p', { class: 'meta' }, 'By ', h('a', { href: `/creators/${enc(w.creator.id)}` }, w.creator.name)),
    w.published ? h('div', { class: 'actions' }, playButton(w)) : h('p', { class: 'meta' }, `Not published (${w.status})`));
}

function workList(items, empty) {
  if (!items.length) return h('p', { class: 'muted' }, empty);
  return h('ul', { class: 'cards' }, items.map(workCard));
}

export async function home() {
  const [works, creators] = await Promise.all([
    api('/api/works?per_page=24'),
    api('/api/creators?per_page=12'),
  ]);
  const published = works.items.filter((w) => w.published);
  return {
    title: 'Home',
    node: h('div', {},
      h('h1', {}, 'Discover music'),
      h('aside', { class: 'promo', 'aria-label': 'For creators' },
        h('p', {}, 'Make music? Upload your songs, prove your rights and reach listeners. ',
          h('a', { href: '/signup' }, 'Create a creator account'))),
      h('section', { 'aria-labelledby': 'latest' },
        h('h2', { id: 'latest' }, 'Latest works'),
        workList(published, 'Nothing has been published yet.')),
      h('section', { 'aria-labelledby': 'creators' },
        h('h2', { id: 'creators' }, 'Creators'),
        creators.items.length
          ? h('ul', {}, creators.items.map((c) => h('li', {}, h('a', { href: `/creators/${enc(c.id)}` }, c.name))))
          : h('p', { class: 'muted' }, 'No creators yet.'))),
  };
}

export async function search({ query, navigate }) {
  const q = (query.get('q') || '').trim();
  const input = h('input', { type: 'search', name: 'q', id: 'search-q', value: q, autocomplete: 'off' });
  const form = h('form', {
    role: 'search', class: 'stack',
    onsubmit: (e) => {
      e.preventDefault();
      const v = input.value.trim();
      navigate(v ? `/search?q=${enc(v)}` : '/search');
    },
  },
  h('div', { class: 'field' }, h('label', { for: 'search-q' }, 'Search titles, artists, albums and lyrics'), input),
  h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Search')));
  let results = null;
  if (q) {
    const r = await api(`/api/search?q=${enc(q)}&per_page=50`);
    results = h('section', { 'aria-labelledby': 'results' },
      h('h2', { id: 'results' }, `${r.total} result${r.total === 1 ? '' : 's'} for “${q}”`),
      workList(r.items, 'Nothing matched. Try fewer or other words.'));
  }
  return { title: q ? `Search: ${q}` : 'Search', node: h('div', {}, h('h1', {}, 'Search'), form, results) };
}

export async function work({ params, me }) {
  const w = await api(`/api/works/${enc(params.id)}`);
  const lyrics = await apiOptional(`/api/works/${enc(w.id)}/lyrics`);
  const mine = me && me.creator && me.creator.id === w.creator.id;
  const facts = [
    ['Artists', artists(w)],
    ['Creator', h('a', { href: `/creators/${enc(w.creator.id)}` }, w.creator.name)],
    w.album && ['Album', w.album],
    w.genre && ['Genre', w.genre],
    w.language && ['Language', w.language],
    w.audio?.duration_s && ['Length', h('span', { 'aria-label': spokenTime(w.audio.duration_s) }, clock(w.audio.duration_s))],
    w.isrc && ['ISRC', w.isrc],
    w.explicit && ['Explicit', 'Yes'],
  ].filter(Boolean);
  return {
    title: w.title,
    node: h('article', {},
      h('h1', {}, w.title),
      w.has_cover ? h('img', { class: 'cover cover-large', src: `/api/works/${enc(w.id)}/cover`, alt: `Cover of ${w.title}`, width: '288', height: '288' }) : null,
      h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
      h('div', { class: 'actions' },
        w.published ? playButton(w) : h('p', {}, `Not published yet (status: ${w.status}).`),
        w.published ? h('a', { class: 'button', href: '/player', onclick: () => playWork(w) }, 'Play in full player') : null,
        mine ? h('a', { class: 'button', href: `/studio/works/${enc(w.id)}` }, 'Manage in studio') : null),
      h('section', { 'aria-labelledby': 'lyrics-h' },
        h('h2', { id: 'lyrics-h' }, 'Lyrics'),
        lyrics ? h('p', { class: 'lyrics-text' }, lyrics.text) : h('p', { class: 'muted' }, 'No lyrics.'))),
  };
}

export async function creator({ params }) {
  const c = await api(`/api/creators/${enc(params.id)}`);
  const works = await api(`/api/works?creator_id=${enc(c.id)}&per_page=100`);
  const links = Array.isArray(c.links) ? c.links : [];
  return {
    title: c.name,
    node: h('article', {},
      h('h1', {}, c.name),
      c.bio ? h('p', {}, c.bio) : null,
      links.length ? h('ul', {}, links.map((l) => h('li', {}, h('a', { href: l, rel: 'nofollow ugc noopener', target: '_blank' }, l, h('span', { class: 'visually-hidden' }, ' (opens in a new tab)'))))) : null,
      h('section', { 'aria-labelledby': 'works-h' },
        h('h2', { id: 'works-h' }, 'Works'),
        workList(works.items.filter((w) => w.published), 'No published works yet.'))),
  };
}
