// The full player view: visualisation canvas, karaoke lyrics, haptics controls and downloads,
// keyboard shortcuts. It draws from the shared player state, so leaving and coming back
// never interrupts playback.
import { h, replace } from '../dom.js';
import { lyricsView } from '../lyrics.js';
import { Visualizer, describeViz } from '../viz.js';
import { player, onPlayer, seekTo, setHaptics, setHapticIntensity, SHORTCUTS } from '../player.js';
import { hapticSettings, hapticsSupported } from '../haptics.js';

const enc = encodeURIComponent;

function safeName(title) {
  return (title || 'track').replace(/[^\p{L}\p{N}._-]+/gu, '-').slice(0, 80) || 'track';
}

export async function page() {
  const root = h('div', {});
  let lyrics = null;
  let viz = null;
  // What the lyrics and visualisation boxes show (UNSET: nothing drawn yet).
  const UNSET = {};
  let vizFor = UNSET;
  let lyricsFor = UNSET;
  const lyricsBox = h('div', {});
  const vizBox = h('div', {});
  const hapticsBox = h('div', {});

  function drawHaptics() {
    const w = player.work;
    if (!w) return;
    const sw = h('button', {
      type: 'button', role: 'switch', 'aria-checked': String(hapticSettings.enabled), id: 'haptics-main-switch',
      onclick: () => setHaptics(!hapticSettings.enabled),
    }, 'Vibrate with the music');
    const level = h('input', {
      type: 'range', id: 'haptics-intensity', min: '0', max: '100', step: '5', value: String(hapticSettings.intensity),
      'aria-valuetext': `${hapticSettings.intensity} %`,
      onchange: (e) => setHapticIntensity(Number(e.target.value)),
    });
    const state = !hapticsSupported
      ? 'This browser cannot vibrate (the Vibration API is missing). Use a download below with a native app.'
      : !hapticSettings.enabled ? 'Haptics are off.'
        : player.haptics.status === 'ready' ? `Haptics are on: ${player.haptics.message}.`
          : player.haptics.status === 'loading' ? 'Loading the haptic track…' : player.haptics.message;
    const base = `/api/works/${enc(w.id)}/haptics`;
    // Redrawing replaces the controls: keep the keyboard focus where it was.
    const focused = hapticsBox.contains(document.activeElement) ? document.activeElement.id : null;
    replace(hapticsBox,
      h('div', { class: 'actions' }, sw),
      h('div', { class: 'field' }, h('label', { for: 'haptics-intensity' }, `Haptic intensity: ${hapticSettings.intensity} %`), level),
      h('p', { role: 'status', id: 'haptics-status' }, state),
      h('p', {}, 'Haptic tracks for apps:'),
      h('div', { class: 'actions' },
        h('a', { class: 'button', href: `${base}/ahap`, download: `${safeName(w.title)}.ahap` }, 'Download AHAP (Apple)'),
        h('a', { class: 'button', href: `${base}/android`, download: `${safeName(w.title)}.android.json` }, 'Download Android track')));
    if (focused) document.getElementById(focused)?.focus();
  }

  function drawData() {
    const w = player.work;
    if (!w) return;
    if (lyricsFor !== player.lyrics) {
      lyricsFor = player.lyrics;
      if (player.lyrics === undefined) replace(lyricsBox, h('p', {}, 'Loading lyrics…'));
      else {
        lyrics = lyricsView(player.lyrics, seekTo);
        replace(lyricsBox, lyrics.el);
        lyrics.update(player.audio.currentTime);
      }
    }
    if (vizFor !== player.viz) {
      vizFor = player.viz;
      viz = null;
      if (player.viz === undefined) replace(vizBox, h('p', {}, 'Loading the visualisation…'));
      else if (player.viz === null) replace(vizBox, h('p', { class: 'muted' }, 'The visualisation is not ready yet.'));
      else if (player.viz.error) replace(vizBox, h('p', { class: 'error' }, `The visualisation could not be loaded: ${player.viz.error}`));
      else {
        const canvas = h('canvas', { class: 'viz', role: 'img', 'aria-label': describeViz(player.viz.data) });
        replace(vizBox, canvas);
        viz = new Visualizer(canvas, player.viz.data);
        viz.draw(player.audio.currentTime);
      }
    }
    drawHaptics();
  }

  function drawAll() {
    const w = player.work;
    lyricsFor = UNSET;
    vizFor = UNSET;
    if (!w) {
      replace(root, h('h1', {}, 'Now playing'),
        h('p', {}, 'Nothing is playing. ', h('a', { href: '/' }, 'Find something to listen to'), '.'));
      return;
    }
    replace(root,
      h('h1', {}, w.title),
      h('p', {}, (w.artists || []).join(', ') || w.creator.name, ' · ',
        h('a', { href: `/works/${enc(w.id)}` }, 'About this work'), ' · ',
        h('a', { href: `/creators/${enc(w.creator.id)}` }, w.creator.name)),
      h('div', { class: 'now-playing' },
        h('section', { 'aria-labelledby': 'lyrics-h' }, h('h2', { id: 'lyrics-h' }, 'Lyrics'), lyricsBox),
        h('div', {},
          h('section', { 'aria-labelledby': 'viz-h' }, h('h2', { id: 'viz-h' }, 'Visualisation'), vizBox),
          h('section', { 'aria-labelledby': 'haptics-h' }, h('h2', { id: 'haptics-h' }, 'Haptics'), hapticsBox))),
      h('section', { 'aria-labelledby': 'keys-h', class: 'no-care' },
        h('h2', { id: 'keys-h' }, 'Keyboard shortcuts'),
        h('dl', { class: 'shortcuts' }, SHORTCUTS.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))));
    drawData();
  }

  drawAll();
  const off = onPlayer((kind) => {
    if (kind === 'track') drawAll();
    else if (kind === 'data') drawData();
    else if (kind === 'frame') {
      const t = player.audio.currentTime;
      lyrics?.update(t);
      viz?.draw(t);
    }
  });
  return { title: player.work ? `Now playing: ${player.work.title}` : 'Now playing', node: root, cleanup: off };
}
