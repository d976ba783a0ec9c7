// Account settings: care mode, creator profile, API keys, log out.
import { api, session, loadMe } from '../api.js';
import { h, replace, field, message, date, announce } from '../dom.js';
import { careOn, setCare, onCareChange } from '../care.js';

export async function page({ me, navigate }) {
  if (!me) {
    return { title: 'Account', node: h('div', {}, h('h1', {}, 'Account'), h('p', {}, h('a', { href: '/login?next=/account' }, 'Log in'), ' to see your account.')) };
  }
  const careSwitch = h('button', {
    type: 'button', role: 'switch', id: 'care-setting', 'aria-checked': String(careOn()),
    onclick: () => setCare(!careOn()),
  }, 'Care mode: larger text and buttons, simpler pages');
  const offCare = onCareChange((on) => careSwitch.setAttribute('aria-checked', String(on)));

  // Creator profile.
  let profile = null;
  if (me.creator || me.role === 'creator') {
    const c = me.creator || { name: '', bio: '', links: [] };
    const name = h('input', { type: 'text', value: c.name, required: true, maxlength: '200' });
    const bio = h('textarea', { rows: '4', maxlength: '5000' });
    bio.value = c.bio || '';
    const links = h('textarea', { rows: '3' });
    links.value = (c.links || []).join('\n');
    const out = h('div', {});
    profile = h('section', { 'aria-labelledby': 'profile-h' }, h('h2', { id: 'profile-h' }, 'Creator profile'),
      h('form', {
        class: 'stack',
        onsubmit: async (e) => {
          e.preventDefault();
          try {
            session.me = await api('/api/me/creator', {
              method: 'PUT',
              body: { name: name.value, bio: bio.value, links: links.value.split('\n').map((s) => s.trim()).filter(Boolean) },
            });
            replace(out, message('Profile saved.', 'ok'));
          } catch (err) { replace(out, message(err.message)); }
        },
      }, field('Name', name), field('Biography', bio), field('Links', links, 'One http(s) address per line.'), out,
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Save profile'))));
  }

  // API keys.
  const keysBox = h('div', {});
  const keyName = h('input', { type: 'text', required: true, maxlength: '100' });
  const keyOut = h('div', {});
  async function drawKeys() {
    const keys = await api('/api/me/api-keys');
    const active = keys.items.filter((k) => !k.revoked_at);
    replace(keysBox, active.length
      ? h('ul', {}, active.map((k) => h('li', {}, `${k.name} (enc_${k.prefix}_…), created ${date(k.created_at)}`,
        k.last_used_at ? `, last used ${date(k.last_used_at)}` : ', never used', ' ',
        h('button', {
          type: 'button', class: 'danger',
          onclick: async () => {
            await api(`/api/me/api-keys/${encodeURIComponent(k.id)}`, { method: 'DELETE' });
            announce(`Key ${k.name} revoked`);
            drawKeys();
          },
        }, 'Revoke', h('span', { class: 'visually-hidden' }, ` key ${k.name}`)))))
      : h('p', { class: 'muted' }, 'No API keys.'));
  }
  await drawKeys();
  const keys = h('section', { 'aria-labelledby': 'keys-h' }, h('h2', { id: 'keys-h' }, 'API keys'),
    h('p', {}, 'Programs use a key as “Authorization: Bearer KEY”. The key is shown once.'),
    keysBox,
    h('form', {
      class: 'stack',
      onsubmit: async (e) => {
        e.preventDefault();
        try {
          const k = await api('/api/me/api-keys', { method: 'POST', body: { name: keyName.value } });
          keyName.value = '';
          replace(keyOut, h('p', { role: 'status' }, 'New key (copy it now, it is not shown again):'),
            h('p', { class: 'key-output', id: 'new-key' }, k.key));
          drawKeys();
        } catch (err) { replace(keyOut, message(err.message)); }
      },
    }, field('Key name', keyName), h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create key')), keyOut));

  return {
    title: 'Account',
    node: h('div', {},
      h('h1', {}, 'Account'),
      h('dl', { class: 'facts' }, h('dt', {}, 'E-mail'), h('dd', {}, me.email), h('dt', {}, 'Account type'), h('dd', {}, me.role)),
      h('section', { 'aria-labelledby': 'display-h' }, h('h2', { id: 'display-h' }, 'Display'),
        h('p', {}, 'Care mode is remembered on this device and on your account.'),
        h('div', { class: 'actions' }, careSwitch)),
      profile,
      keys,
      h('section', { 'aria-labelledby': 'session-h' }, h('h2', { id: 'session-h' }, 'Session'),
        h('div', { class: 'actions' }, h('button', {
          type: 'button', id: 'logout',
          onclick: async () => {
            await api('/api/auth/logout', { method: 'POST' }).catch(() => {});
            await loadMe();
            navigate('/', { replaceState: true });
          },
        }, 'Log out')))),
    cleanup: offCare,
  };
}
