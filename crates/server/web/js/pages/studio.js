// The creator studio: own works, upload with progress, each processing step's status (polled),
// matches found, the rights certificate, publishing.
import { api, apiOptional, upload as uploadForm, loadMe } from '../api.js';
import { h, replace, field, message, date, announce, clock, tableWrap } from '../dom.js';
import { playWork } from '../player.js';

const enc = encodeURIComponent;

function needCreator(me) {
  if (!me) {
    return { title: 'Studio', node: h('div', {}, h('h1', {}, 'Studio'), h('p', {}, h('a', { href: '/login?next=/studio' }, 'Log in'), ' to manage your works.')) };
  }
  if (!['creator', 'admin'].includes(me.role)) {
    return { title: 'Studio', node: h('div', {}, h('h1', {}, 'Studio'), h('p', {}, 'The studio is for creator accounts.')) };
  }
  return null;
}

function profileForm(navigate) {
  const name = h('input', { type: 'text', required: true, maxlength: '200', autocomplete: 'name' });
  const out = h('div', {});
  return h('form', {
    class: 'stack',
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api('/api/me/creator', { method: 'PUT', body: { name: name.value } });
        await loadMe();
        navigate('/studio', { replaceState: true });
      } catch (err) { replace(out, message(err.message)); }
    },
  }, h('p', {}, 'Create your creator profile first.'), field('Creator name', name), out,
  h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create profile')));
}

export async function list({ me, navigate }) {
  const stop = needCreator(me);
  if (stop) return stop;
  if (!me.creator) {
    return { title: 'Studio', node: h('div', {}, h('h1', {}, 'Studio'), profileForm(navigate)) };
  }
  const works = await api(`/api/works?creator_id=${enc(me.creator.id)}&per_page=100`);
  const rows = works.items.map((w) => h('tr', {},
    h('td', {}, h('a', { href: `/studio/works/${enc(w.id)}` }, w.title)),
    h('td', {}, w.status),
    h('td', {}, w.published ? 'Published' : 'Not published'),
    h('td', {}, date(w.created_at))));
  return {
    title: 'Studio',
    node: h('div', {},
      h('h1', {}, 'Studio'),
      h('p', {}, `Signed in as ${me.creator.name}.`),
      h('div', { class: 'actions' }, h('a', { class: 'button primary', href: '/studio/upload' }, 'Upload a work')),
      h('h2', {}, 'Your works'),
      works.items.length
        ? tableWrap('Your works', h('table', {},
          h('caption', { class: 'visually-hidden' }, 'Your works'),
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Title'), h('th', { scope: 'col' }, 'Processing'), h('th', { scope: 'col' }, 'Published'), h('th', { scope: 'col' }, 'Uploaded'))),
          h('tbody', {}, rows)))
        : h('p', { class: 'muted' }, 'You have not uploaded anything yet.')),
  };
}

export async function upload({ me, navigate }) {
  const stop = needCreator(me);
  if (stop) return stop;
  if (!me.creator) return { title: 'Upload', node: h('div', {}, h('h1', {}, 'Upload a work'), profileForm(navigate)) };
  const title = h('input', { type: 'text', name: 'title', maxlength: '300', required: true });
  const audio = h('input', {
    type: 'file', name: 'audio', accept: 'audio/*,.flac,.opus,.ogg,.m4a,.wav,.mp3', required: true,
    onchange: (e) => {
      const f = e.target.files[0];
      if (f && !title.value.trim()) title.value = f.name.replace(/\.[^.]+$/, '').replace(/[_-]+/g, ' ').trim();
    },
  });
  const artistsIn = h('input', { type: 'text', name: 'artists', value: me.creator.name });
  const album = h('input', { type: 'text', name: 'album' });
  const genre = h('input', { type: 'text', name: 'genre' });
  const language = h('input', { type: 'text', name: 'language', placeholder: 'en' });
  const isrc = h('input', { type: 'text', name: 'isrc', placeholder: 'CC-XXX-YY-NNNNN' });
  const lyrics = h('textarea', { name: 'lyrics', rows: '8' });
  const lyricsFile = h('input', {
    type: 'file', accept: '.lrc,.txt,text/plain',
    onchange: async (e) => { const f = e.target.files[0]; if (f) lyrics.value = await f.text(); },
  });
  const cover = h('input', { type: 'file', name: 'cover', accept: 'image/png,image/jpeg,image/webp' });
  const explicit = h('input', { type: 'checkbox', name: 'explicit', id: 'explicit' });
  const progress = h('progress', { max: '100', value: '0', id: 'upload-progress', 'aria-label': 'Upload progress' });
  const progressText = h('p', { role: 'status', id: 'upload-status' }, '');
  const out = h('div', {});
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Upload');
  const form = h('form', {
    class: 'stack',
    onsubmit: async (e) => {
      e.preventDefault();
      replace(out);
      if (!audio.files[0]) { replace(out, message('Choose an audio file.')); return; }
      const fd = new FormData();
      fd.append('title', title.value.trim());
      for (const a of artistsIn.value.split(',').map((s) => s.trim()).filter(Boolean)) fd.append('artists', a);
      for (const [k, el] of [['album', album], ['genre', genre], ['language', language], ['isrc', isrc]]) {
        if (el.value.trim()) fd.append(k, el.value.trim());
      }
      if (lyrics.value.trim()) fd.append('lyrics', lyrics.value);
      fd.append('explicit', explicit.checked ? 'true' : 'false');
      if (cover.files[0]) fd.append('cover', cover.files[0]);
      fd.append('audio', audio.files[0]);
      submit.disabled = true;
      progress.hidden = false;
      try {
        const w = await uploadForm('/api/works', fd, (loaded, total) => {
          const pct = Math.floor((loaded / total) * 100);
          progress.value = pct;
          progressText.textContent = `Uploaded ${pct} %`;
        });
        progress.value = 100;
        progressText.textContent = 'Upload complete. Processing starts now.';
        announce('Upload complete');
        navigate(`/studio/works/${enc(w.id)}`);
      } catch (err) {
        submit.disabled = false;
        progressText.textContent = '';
        replace(out, message(`The upload failed: ${err.message}`));
      }
    },
  },
  field('Audio file', audio, 'MP3, FLAC, Ogg Vorbis, Opus, AAC/M4A or WAV, up to the server limit.'),
  field('Title', title, 'Filled in from the file name; change it as you like.'),
  field('Artists', artistsIn, 'Separate several artists with commas.'),
  field('Album', album), field('Genre', genre),
  field('Language', language, 'A language tag such as en, fr or zh-Hans.'),
  field('ISRC', isrc),
  field('Lyrics', lyrics, 'Plain text, one line per lyric line, or LRC with line times.'),
  field('Lyrics file', lyricsFile, 'Optional: read the lyrics from a .lrc or .txt file.'),
  field('Cover image', cover, 'PNG, JPEG or WebP.'),
  h('label', { class: 'check', for: 'explicit' }, explicit, 'Explicit content'),
  h('div', { class: 'actions' }, submit),
  progress, progressText, out);
  progress.hidden = true;
  return { title: 'Upload a work', node: h('div', {}, h('h1', {}, 'Upload a work'), form) };
}

const STEP_NAMES = {
  analyse: 'Analysis (tempo, beats, loudness)',
  fingerprint: 'Fingerprint and match search',
  register: 'Rights registry',
  haptics: 'Haptics and visualisation',
  lyrics: 'Lyric alignment',
};

/** The lyrics step's result as a note for the creator: why the lyrics were not aligned, how
 * many LRC lines start after the audio ends (the LRC of another recording, or a wrong offset),
 * and why Whisper had no part when it was asked. Empty when there is nothing to say. */
function lyricsNote(r) {
  if (!r) return '';
  if (r.aligned === false && r.reason && r.reason !== 'no lyrics') return `Lyrics not aligned: ${r.reason}.`;
  const notes = [];
  const late = Number(r.lines_after_end) || 0;
  if (late > 0) {
    notes.push(`${late} lyric ${late === 1 ? 'line starts' : 'lines start'} after the audio ends: is the LRC for this recording, and its offset right?`);
  }
  if (r.whisper_error) notes.push(`Aligned without Whisper, so less precisely (${r.whisper_error}).`);
  return notes.join(' ');
}

export async function work({ params, me, navigate }) {
  // Reviewers see any work's processing too.
  const stop = me && me.role === 'reviewer' ? null : needCreator(me);
  if (stop) return stop;
  const id = params.id;
  let w = await api(`/api/works/${enc(id)}`);
  const heading = h('h1', {}, w.title);
  const statusLine = h('p', { role: 'status', id: 'work-status' });
  const jobsBox = h('div', {});
  const matchesBox = h('div', {});
  const certBox = h('div', {});
  const publishBox = h('div', {});
  let timer = null;
  let stopped = false;
  // What a finished step wants the creator to know (from its stored result), by step.
  const notes = {};

  async function loadNotes(j) {
    if (notes.lyrics !== undefined || !j.jobs.some((x) => x.step === 'lyrics' && x.status === 'done')) return;
    const a = await apiOptional(`/api/works/${enc(id)}/analysis`);
    notes.lyrics = lyricsNote(a && a.lyrics && a.lyrics.result);
  }

  function drawJobs(j) {
    const done = j.jobs.filter((x) => x.status === 'done').length;
    statusLine.textContent = `Status: ${j.status}. ${done} of ${j.jobs.length} steps done.`;
    replace(jobsBox, tableWrap('Processing steps', h('table', { id: 'jobs' },
      h('caption', { class: 'visually-hidden' }, 'Processing steps'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Step'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Attempts'), h('th', { scope: 'col' }, 'Time'), h('th', { scope: 'col' }, 'Message'))),
      h('tbody', {}, j.jobs.map((x) => h('tr', { 'data-step': x.step },
        h('th', { scope: 'row' }, STEP_NAMES[x.step] || x.step),
        h('td', { class: `status-${x.status}` }, x.status),
        h('td', {}, String(x.attempts)),
        h('td', {}, x.duration_ms != null ? `${(x.duration_ms / 1000).toFixed(1)} s` : ''),
        h('td', {}, x.error || notes[x.step] || '')))))));
  }

  async function drawMatches() {
    try {
      const m = await apiOptional(`/api/works/${enc(id)}/matches`);
      if (!m) { replace(matchesBox, h('p', { class: 'muted' }, 'The match search has not run yet.')); return; }
      if (!m.matches.length) { replace(matchesBox, h('p', {}, 'No other work matched this recording.')); return; }
      // A matched work the caller may not see comes without id, title or creator.
      replace(matchesBox, h('ul', { id: 'matches' }, m.matches.map((x) => h('li', {},
        x.work_id ? h('a', { href: `/works/${enc(x.work_id)}` }, x.title) : 'A work you cannot see',
        x.creator ? ` by ${typeof x.creator === 'object' ? x.creator.name : x.creator}` : '',
        `: score ${Number(x.score).toFixed(2)}, at ${clock(x.offset_s)} into the other work`))));
    } catch (e) {
      replace(matchesBox, message(`Matches could not be loaded: ${e.message}`));
    }
  }

  async function drawCertificate() {
    const url = `/api/works/${enc(id)}/certificate`;
    const r = await fetch(url, { method: 'HEAD', credentials: 'same-origin' }).catch(() => null);
    if (r && r.ok) {
      replace(certBox,
        h('p', {}, 'This work is recorded in the rights registry. The certificate is a tlog-proof anyone can check offline against the registry key.'),
        h('div', { class: 'actions' },
          h('a', { class: 'button primary', href: url, download: `${id}.tlog-proof`, id: 'certificate-link' }, 'Download the rights certificate'),
          h('a', { class: 'button', href: '/api/registry/key', download: 'encore-registry-key.json' }, 'Download the registry key')));
    } else {
      replace(certBox, h('p', { class: 'muted' }, 'The certificate is issued once the work is registered.'));
    }
  }

  function drawPublish() {
    if (w.published) {
      replace(publishBox, h('p', { class: 'ok' }, 'Published. ', h('a', { href: `/works/${enc(w.id)}` }, 'Open the public page')),
        h('div', { class: 'actions' }, h('button', { type: 'button', class: 'primary', onclick: () => playWork(w) }, 'Play')));
    } else if (w.status === 'ready') {
      replace(publishBox, h('div', { class: 'actions' }, h('button', {
        type: 'button', class: 'primary', id: 'publish',
        onclick: async () => {
          try {
            w = await api(`/api/works/${enc(id)}/publish`, { method: 'POST' });
            announce('Published');
            drawPublish();
          } catch (e) { replace(publishBox, message(e.message)); }
        },
      }, 'Publish')));
    } else {
      replace(publishBox, h('p', {}, w.status === 'held'
        ? 'This work is held for review because it matched another creator’s work. A reviewer will decide.'
        : w.status === 'failed' ? 'Processing failed; see the steps above.'
          : `It can be published when processing is done (now: ${w.status}).`));
    }
  }

  async function poll() {
    if (stopped) return;
    try {
      const j = await api(`/api/works/${enc(id)}/jobs`);
      await loadNotes(j).catch(() => {});
      drawJobs(j);
      if (j.status !== w.status) {
        w = await api(`/api/works/${enc(id)}`);
        drawPublish();
        drawMatches();
        drawCertificate();
      }
      if (j.status === 'processing' && !stopped) timer = setTimeout(poll, 1500);
    } catch (e) {
      replace(jobsBox, message(`Status could not be loaded: ${e.message}`));
      if (!stopped) timer = setTimeout(poll, 5000);
    }
  }

  const node = h('div', {},
    heading,
    h('p', {}, h('a', { href: '/studio' }, 'Back to your works')),
    statusLine,
    h('section', { 'aria-labelledby': 'steps-h' }, h('h2', { id: 'steps-h' }, 'Processing'), jobsBox),
    h('section', { 'aria-labelledby': 'publish-h' }, h('h2', { id: 'publish-h' }, 'Publishing'), publishBox),
    h('section', { 'aria-labelledby': 'matches-h' }, h('h2', { id: 'matches-h' }, 'Matches found'), matchesBox),
    h('section', { 'aria-labelledby': 'cert-h' }, h('h2', { id: 'cert-h' }, 'Rights certificate'), certBox));
  drawPublish();
  await poll();
  drawMatches();
  drawCertificate();
  return { title: `Studio: ${w.title}`, node, cleanup: () => { stopped = true; clearTimeout(timer); } };
}
