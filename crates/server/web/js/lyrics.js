// Timed lyrics: the server's aligned lines and words, or line times read from LRC (with
// enhanced-LRC word times when present), and the karaoke view that follows the player.
import { h, clock } from './dom.js';

const TIME = /\[(\d{1,3}):(\d{1,2})(?:[.:](\d{1,3}))?\]/g;
const WORD_TIME = /<(\d{1,3}):(\d{1,2})(?:[.:](\d{1,3}))?>/g;

function seconds(m, s, frac) {
  const f = frac ? Number(frac) / 10 ** frac.length : 0;
  return Number(m) * 60 + Number(s) + f;
}

/** Parses LRC / enhanced LRC into [{text, start_s, end_s, words?}], sorted by time. */
export function parseLrc(text) {
  let offset = 0;
  const lines = [];
  for (const raw of text.split(/\r?\n/)) {
    const off = raw.match(/^\[offset:\s*([+-]?\d+)\]/i);
    if (off) { offset = Number(off[1]) / 1000; continue; }
    const times = [...raw.matchAll(TIME)];
    if (!times.length) continue;
    const body = raw.replace(TIME, '').trim();
    let words = null;
    const marks = [...body.matchAll(WORD_TIME)];
    if (marks.length) {
      words = [];
      marks.forEach((m, i) => {
        const end = i + 1 < marks.length ? marks[i + 1].index : body.length;
        const w = body.slice(m.index + m[0].length, end).trim();
        if (w) words.push({ text: w, start_s: seconds(m[1], m[2], m[3]) - offset });
      });
    }
    const plain = body.replace(WORD_TIME, '').replace(/\s+/g, ' ').trim();
    for (const t of times) {
      lines.push({ text: plain, start_s: seconds(t[1], t[2], t[3]) - offset, words });
    }
  }
  lines.sort((a, b) => a.start_s - b.start_s);
  for (let i = 0; i < lines.length; i++) {
    lines[i].end_s = i + 1 < lines.length ? lines[i + 1].start_s : lines[i].start_s + 5;
    const ws = lines[i].words;
    if (ws) ws.forEach((w, j) => { w.end_s = j + 1 < ws.length ? ws[j + 1].start_s : lines[i].end_s; });
  }
  return lines.filter((l) => l.text);
}

/**
 * From GET /api/works/{id}/lyrics: {timed: true, lines} when times are known (aligned by the
 * server, else LRC), {timed: false, text} for plain lyrics.
 */
export function timedLyrics(doc) {
  if (!doc) return null;
  if (doc.aligned && Array.isArray(doc.aligned.lines) && doc.aligned.lines.length) {
    return { timed: true, source: 'aligned', lines: doc.aligned.lines.filter((l) => l.text) };
  }
  if (doc.lyrics && (doc.format === 'lrc' || /^\s*\[\d{1,3}:\d{1,2}/m.test(doc.lyrics))) {
    const lines = parseLrc(doc.lyrics);
    if (lines.length) return { timed: true, source: 'lrc', lines };
  }
  return { timed: false, text: doc.text || doc.lyrics || '' };
}

/** Index of the line playing at `t` (the last line started), or -1. */
export function lineAt(lines, t) {
  let lo = 0;
  let hi = lines.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (lines[mid].start_s <= t) { found = mid; lo = mid + 1; } else hi = mid - 1;
  }
  return found;
}

/**
 * The karaoke view: a list of line buttons (click or Enter seeks to the line; clicking a word
 * seeks to the word). Call update(t) with the playback time.
 */
export function lyricsView(lyrics, seek) {
  if (!lyrics) return { el: h('p', { class: 'muted' }, 'This work has no lyrics.'), update() {} };
  if (!lyrics.timed) {
    return {
      el: h('div', { class: 'lyrics-view' }, h('p', { class: 'lyrics-static' }, lyrics.text),
        h('p', { class: 'muted' }, 'These lyrics have no timing yet.')),
      update() {},
    };
  }
  const items = lyrics.lines.map((line, i) => {
    const words = (line.words || []).map((w) => h('span', { class: 'word', 'data-start': w.start_s }, w.text));
    const content = [];
    words.forEach((w, j) => { if (j) content.push(' '); content.push(w); });
    const button = h('button', {
      type: 'button',
      class: 'lyric-line',
      'data-index': i,
      'aria-label': `${line.text} (${clock(line.start_s)})`,
      onclick: (e) => {
        const word = e.target.closest('.word');
        seek(word ? Number(word.dataset.start) : line.start_s);
      },
    }, words.length ? content : line.text);
    return { button, words, line };
  });
  const el = h('div', { class: 'lyrics-view' },
    h('ol', {}, items.map((it) => h('li', {}, it.button))));
  let current = -2;
  let currentWord = null;
  const reduce = window.matchMedia('(prefers-reduced-motion: reduce)').matches;
  return {
    el,
    update(t) {
      const i = lineAt(lyrics.lines, t);
      if (i !== current) {
        if (items[current]) {
          items[current].button.classList.remove('current');
          items[current].button.removeAttribute('aria-current');
          for (const w of items[current].words) w.classList.remove('sung', 'current-word');
        }
        current = i;
        currentWord = null;
        if (items[i]) {
          const b = items[i].button;
          b.classList.add('current');
          b.setAttribute('aria-current', 'true');
          // Keep the current line in view without moving the page under the reader.
          const box = el.getBoundingClientRect();
          const lb = b.getBoundingClientRect();
          if (lb.top < box.top || lb.bottom > box.bottom) {
            el.scrollTo({ top: b.offsetTop - el.clientHeight / 3, behavior: reduce ? 'auto' : 'smooth' });
          }
        }
      }
      const it = items[i];
      if (!it || !it.words.length) return;
      const ws = it.line.words;
      let k = -1;
      for (let j = 0; j < ws.length; j++) if (ws[j].start_s <= t) k = j;
      if (k === currentWord) return;
      currentWord = k;
      it.words.forEach((w, j) => {
        w.classList.toggle('sung', j < k || (j === k && t >= ws[j].end_s));
        w.classList.toggle('current-word', j === k && t < ws[j].end_s);
      });
    },
  };
}
