// The player: one <audio> element outside the routed page (so playback survives navigation),
// the persistent bar, keyboard control, Media Session, play recording (POST /api/plays),
// and the per-track data the full view uses: timed lyrics, visualisation, haptics.
import { api, apiOptional, ApiError } from './api.js';
import { h, clock, announce, replace } from './dom.js';
import { timedLyrics } from './lyrics.js';
import { validateViz } from './viz.js';
import { HapticScheduler, hapticSettings, hapticsSupported, validateTrack } from './haptics.js';

const listeners = new Set();

export const player = {
  audio: null,
  work: null,
  format: 'original',
  lyrics: undefined, // undefined: loading; null: none
  viz: undefined, // undefined: loading; null: not available; {data} or {error}
  haptics: { status: 'off', scheduler: null, message: '' },
  listened: 0,
  lastPos: 0,
};

/** Subscribes to player events: f(kind) with kind 'track' | 'state' | 'frame' | 'data'. */
export function onPlayer(f) {
  listeners.add(f);
  return () => listeners.delete(f);
}

function emit(kind) {
  for (const f of listeners) {
    try { f(kind); } catch (e) { console.error(e); }
  }
}

let ui = null;

export function initPlayer() {
  const audio = h('audio', { preload: 'metadata' });
  player.audio = audio;
  const bar = document.getElementById('player-bar');
  const title = h('a', { href: '/' }, '');
  const who = h('span', { class: 'who' }, '');
  const play = h('button', { type: 'button', class: 'primary', 'data-action': 'play', onclick: toggle },
    h('span', { 'aria-hidden': 'true' }, '▶'), h('span', { class: 'label' }, 'Play'));
  const back = h('button', { type: 'button', onclick: () => skip(-10) },
    h('span', { 'aria-hidden': 'true' }, '−10 s'), h('span', { class: 'visually-hidden' }, 'Back 10 seconds'));
  const fwd = h('button', { type: 'button', onclick: () => skip(10) },
    h('span', { 'aria-hidden': 'true' }, '+10 s'), h('span', { class: 'visually-hidden' }, 'Forward 10 seconds'));
  const pos = h('span', { class: 'time', 'aria-hidden': 'true' }, '0:00');
  const dur = h('span', { class: 'time', 'aria-hidden': 'true' }, '0:00');
  const seek = h('input', {
    type: 'range', min: '0', max: '0', step: '0.1', value: '0', 'aria-label': 'Position',
    oninput: (e) => { if (Number.isFinite(audio.duration)) audio.currentTime = Number(e.target.value); },
  });
  const volume = h('input', {
    type: 'range', min: '0', max: '1', step: '0.05', value: '1', 'aria-label': 'Volume',
    oninput: (e) => { audio.volume = Number(e.target.value); },
  });
  const hapticSwitch = h('button', {
    type: 'button', role: 'switch', 'aria-checked': String(hapticSettings.enabled), class: 'haptics-switch',
    onclick: () => setHaptics(!hapticSettings.enabled),
  }, 'Haptics');
  const full = h('a', { class: 'button', href: '/player' }, 'Full player');
  const status = h('span', { class: 'visually-hidden', role: 'status' }, '');
  replace(bar,
    h('div', { class: 'now' }, title, who),
    h('div', { class: 'controls' }, back, play, fwd),
    h('div', { class: 'seek' }, pos, seek, dur),
    h('div', { class: 'volume' }, volume),
    h('div', { class: 'extra' }, hapticSwitch, full),
    status, audio);
  ui = { bar, title, who, play, seek, pos, dur, volume, hapticSwitch, status };

  audio.addEventListener('play', () => { updateState(); loop(); });
  audio.addEventListener('pause', () => { updateState(); player.haptics.scheduler?.stop(); });
  audio.addEventListener('loadedmetadata', updateTime);
  audio.addEventListener('durationchange', updateTime);
  audio.addEventListener('timeupdate', () => { countListened(); updateTime(); });
  audio.addEventListener('seeked', () => {
    player.lastPos = audio.currentTime;
    player.haptics.scheduler?.reset(audio.currentTime * 1000);
    updateTime();
    emit('frame');
  });
  audio.addEventListener('ended', () => { flushPlay(false); updateState(); });
  audio.addEventListener('error', onAudioError);
  window.addEventListener('pagehide', () => flushPlay(true));
  document.addEventListener('keydown', onKey);
  setupMediaSession();
}

function onAudioError() {
  const w = player.work;
  if (!w) return;
  if (player.format === 'original') {
    // The browser cannot decode the original: fall back to the server's Opus transcode.
    player.format = 'opus';
    player.audio.src = `/api/works/${encodeURIComponent(w.id)}/stream/opus`;
    player.audio.play().catch(() => {});
    return;
  }
  announce('This recording cannot be played in this browser.');
}

function updateState() {
  if (!ui) return;
  const playing = !player.audio.paused;
  ui.play.querySelector('[aria-hidden]').textContent = playing ? '❚❚' : '▶';
  ui.play.querySelector('.label').textContent = playing ? 'Pause' : 'Play';
  if ('mediaSession' in navigator) navigator.mediaSession.playbackState = playing ? 'playing' : 'paused';
  emit('state');
}

function updateTime() {
  if (!ui) return;
  const a = player.audio;
  const d = Number.isFinite(a.duration) ? a.duration : (player.work?.audio?.duration_s || 0);
  ui.seek.max = String(d);
  ui.seek.value = String(a.currentTime);
  ui.seek.setAttribute('aria-valuetext', `${clock(a.currentTime)} of ${clock(d)}`);
  ui.pos.textContent = clock(a.currentTime);
  ui.dur.textContent = clock(d);
  if ('mediaSession' in navigator && navigator.mediaSession.setPositionState && d > 0) {
    try {
      navigator.mediaSession.setPositionState({ duration: d, position: Math.min(a.currentTime, d), playbackRate: a.playbackRate });
    } catch { /* position outside duration while loading */ }
  }
}

let looping = false;
function loop() {
  if (looping) return;
  looping = true;
  const step = () => {
    const a = player.audio;
    const t = a.currentTime;
    player.haptics.scheduler?.tick(t * 1000);
    emit('frame');
    if (!a.paused && !a.ended) requestAnimationFrame(step);
    else looping = false;
  };
  requestAnimationFrame(step);
}

function countListened() {
  const a = player.audio;
  const d = a.currentTime - player.lastPos;
  if (!a.paused && !a.seeking && d > 0 && d < 1.5) player.listened += d;
  player.lastPos = a.currentTime;
}

/** Records the listening so far as one play (at track end, track change or page exit). */
function flushPlay(keepalive) {
  const w = player.work;
  const ms = Math.round(player.listened * 1000);
  player.listened = 0;
  if (!w || ms < 1000) return;
  api('/api/plays', {
    method: 'POST',
    body: { work_id: w.id, listened_ms: ms, format: player.format },
    keepalive,
  }).catch(() => { /* a lost play count is not worth interrupting the listener */ });
}

export function toggle() {
  const a = player.audio;
  if (!player.work) return;
  if (a.paused) a.play().catch((e) => announce(`Playback failed: ${e.message}`));
  else a.pause();
}

export function skip(seconds) {
  const a = player.audio;
  if (!player.work) return;
  const d = Number.isFinite(a.duration) ? a.duration : Infinity;
  a.currentTime = Math.max(0, Math.min(d, a.currentTime + seconds));
}

export function seekTo(seconds) {
  if (!player.work) return;
  player.audio.currentTime = Math.max(0, seconds);
  if (player.audio.paused) player.audio.play().catch(() => {});
}

/** Starts playing a work (the API's work object). */
export async function playWork(work, { autoplay = true } = {}) {
  if (player.work && player.work.id === work.id) {
    if (autoplay && player.audio.paused) player.audio.play().catch(() => {});
    return;
  }
  flushPlay(false);
  player.haptics.scheduler?.stop();
  player.work = work;
  player.format = 'original';
  player.lyrics = undefined;
  player.viz = undefined;
  player.haptics = { status: 'off', scheduler: null, message: '' };
  player.listened = 0;
  player.lastPos = 0;
  const a = player.audio;
  a.src = `/api/works/${encodeURIComponent(work.id)}/stream`;
  ui.bar.hidden = false;
  ui.title.textContent = work.title;
  ui.title.href = `/works/${encodeURIComponent(work.id)}`;
  ui.who.textContent = (work.artists && work.artists.length ? work.artists.join(', ') : work.creator?.name) || '';
  setMediaMetadata(work);
  updateTime();
  emit('track');
  announce(`Playing ${work.title}`);
  if (autoplay) a.play().catch((e) => { if (e.name !== 'AbortError') announce(`Press Play to start: ${e.message}`); });
  loadTrackData(work);
}

async function loadTrackData(work) {
  const id = encodeURIComponent(work.id);
  const mine = () => player.work && player.work.id === work.id;
  apiOptional(`/api/works/${id}/lyrics`)
    .then((doc) => { if (mine()) { player.lyrics = timedLyrics(doc); emit('data'); } })
    .catch(() => { if (mine()) { player.lyrics = null; emit('data'); } });
  apiOptional(`/api/works/${id}/visualization`)
    .then((v) => { if (mine()) { player.viz = v ? { data: validateViz(v) } : null; emit('data'); } })
    .catch((e) => { if (mine()) { player.viz = { error: e.message }; emit('data'); } });
  if (hapticSettings.enabled) loadHaptics();
}

/** Fetches the web haptic track of the current work (once). */
export async function loadHaptics() {
  const work = player.work;
  if (!work || ['loading', 'ready'].includes(player.haptics.status)) return;
  player.haptics.status = 'loading';
  emit('data');
  try {
    const track = await api(`/api/works/${encodeURIComponent(work.id)}/haptics/web`);
    if (player.work !== work) return;
    const scheduler = new HapticScheduler(validateTrack(track));
    scheduler.reset(player.audio.currentTime * 1000);
    player.haptics = { status: 'ready', scheduler, message: `${track.segments.length} vibration segments` };
  } catch (e) {
    if (player.work !== work) return;
    const notReady = e instanceof ApiError && e.status === 404;
    player.haptics = {
      status: notReady ? 'not_ready' : 'error',
      scheduler: null,
      message: notReady ? 'The haptic track is not ready yet.' : `The haptic track could not be loaded: ${e.message}`,
    };
  }
  emit('data');
}

/** Turns haptics on or off (remembered on this device). */
export function setHaptics(on) {
  hapticSettings.enabled = on;
  hapticSettings.save();
  ui?.hapticSwitch.setAttribute('aria-checked', String(on));
  if (on) {
    if (!hapticsSupported) announce('This browser cannot vibrate. Download a haptic track for an app instead.');
    loadHaptics();
  } else {
    player.haptics.scheduler?.stop();
  }
  emit('data');
}

export function setHapticIntensity(percent) {
  hapticSettings.intensity = Math.min(100, Math.max(0, Math.round(percent)));
  hapticSettings.save();
  emit('data');
}

function setMediaMetadata(work) {
  if (!('mediaSession' in navigator) || typeof MediaMetadata === 'undefined') return;
  const artwork = work.has_cover ? [{ src: `/api/works/${encodeURIComponent(work.id)}/cover`, sizes: '512x512' }] : [];
  navigator.mediaSession.metadata = new MediaMetadata({
    title: work.title,
    artist: (work.artists || []).join(', ') || work.creator?.name || '',
    album: work.album || '',
    artwork,
  });
}

function setupMediaSession() {
  if (!('mediaSession' in navigator)) return;
  const ms = navigator.mediaSession;
  const set = (action, f) => { try { ms.setActionHandler(action, f); } catch { /* unsupported action */ } };
  set('play', () => player.audio.play().catch(() => {}));
  set('pause', () => player.audio.pause());
  set('stop', () => { player.audio.pause(); player.audio.currentTime = 0; });
  set('seekbackward', (d) => skip(-(d.seekOffset || 10)));
  set('seekforward', (d) => skip(d.seekOffset || 10));
  set('seekto', (d) => { if (Number.isFinite(d.seekTime)) player.audio.currentTime = d.seekTime; });
}

/** Keyboard shortcuts, listed on the full player page. */
export const SHORTCUTS = [
  ['Space or K', 'Play or pause'],
  ['← / →', 'Back or forward 5 seconds'],
  ['J / L', 'Back or forward 10 seconds'],
  ['+ / −', 'Volume up or down'],
  ['M', 'Mute or unmute'],
  ['H', 'Haptics on or off'],
  ['0 to 9', 'Jump to 0 % to 90 % of the song'],
];

function onKey(e) {
  if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || !player.work) return;
  const t = e.target;
  const tag = t && t.tagName;
  if (t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(tag))) return;
  const onControl = ['BUTTON', 'A', 'SUMMARY'].includes(tag);
  const a = player.audio;
  let handled = true;
  switch (e.key) {
    case ' ':
      if (onControl) return; // Space activates the focused control.
      toggle();
      break;
    case 'k': case 'K': toggle(); break;
    case 'ArrowLeft': skip(-5); break;
    case 'ArrowRight': skip(5); break;
    case 'j': case 'J': skip(-10); break;
    case 'l': case 'L': skip(10); break;
    case '+': case '=': a.volume = Math.min(1, a.volume + 0.1); ui.volume.value = String(a.volume); announce(`Volume ${Math.round(a.volume * 100)} %`); break;
    case '-': case '_': a.volume = Math.max(0, a.volume - 0.1); ui.volume.value = String(a.volume); announce(`Volume ${Math.round(a.volume * 100)} %`); break;
    case 'm': case 'M': a.muted = !a.muted; announce(a.muted ? 'Muted' : 'Unmuted'); break;
    case 'h': case 'H': setHaptics(!hapticSettings.enabled); announce(hapticSettings.enabled ? 'Haptics on' : 'Haptics off'); break;
    default:
      if (/^[0-9]$/.test(e.key) && Number.isFinite(a.duration)) a.currentTime = (Number(e.key) / 10) * a.duration;
      else handled = false;
  }
  if (handled) e.preventDefault();
}
