// Sign up and log in.
import { api, loadMe, ApiError } from '../api.js';
import { h, replace, field, message } from '../dom.js';
import { syncCareAfterLogin, careOn } from '../care.js';

/** Only same-site paths are followed after signing in. */
function nextPath(query) {
  const n = query.get('next') || '/';
  return n.startsWith('/') && !n.startsWith('//') ? n : '/';
}

export async function login({ query, navigate }) {
  const email = h('input', { type: 'email', required: true, autocomplete: 'username', id: 'login-email' });
  const password = h('input', { type: 'password', required: true, autocomplete: 'current-password', id: 'login-password' });
  const out = h('div', {});
  const form = h('form', {
    class: 'stack',
    onsubmit: async (e) => {
      e.preventDefault();
      replace(out);
      try {
        await api('/api/auth/login', { method: 'POST', body: { email: email.value, password: password.value } });
        await loadMe();
        await syncCareAfterLogin();
        navigate(nextPath(query), { replaceState: true });
      } catch (err) {
        replace(out, message(err instanceof ApiError && err.code === 'rate_limited' ? `Too many attempts. ${err.message}` : err.message));
      }
    },
  },
  field('E-mail address', email), field('Password', password), out,
  h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Log in')));
  return {
    title: 'Log in',
    node: h('div', {}, h('h1', {}, 'Log in'), form,
      h('p', {}, 'No account yet? ', h('a', { href: '/signup' }, 'Sign up'))),
  };
}

export async function signup({ navigate }) {
  const email = h('input', { type: 'email', required: true, autocomplete: 'email', id: 'signup-email' });
  const password = h('input', { type: 'password', required: true, minlength: '10', autocomplete: 'new-password', id: 'signup-password' });
  const name = h('input', { type: 'text', maxlength: '200', autocomplete: 'nickname', id: 'signup-name' });
  const nameField = field('Creator name', name, 'Shown on your public creator page.');
  const listener = h('input', { type: 'radio', name: 'role', value: 'listener', id: 'role-listener', checked: true });
  const creator = h('input', { type: 'radio', name: 'role', value: 'creator', id: 'role-creator' });
  const sync = () => { nameField.hidden = !creator.checked; name.required = creator.checked; };
  listener.addEventListener('change', sync);
  creator.addEventListener('change', sync);
  const out = h('div', {});
  const form = h('form', {
    class: 'stack',
    onsubmit: async (e) => {
      e.preventDefault();
      replace(out);
      const body = { email: email.value, password: password.value, role: creator.checked ? 'creator' : 'listener' };
      if (creator.checked) body.name = name.value;
      try {
        await api('/api/auth/signup', { method: 'POST', body });
        await loadMe();
        if (careOn()) await syncCareAfterLogin();
        navigate(creator.checked ? '/studio' : '/', { replaceState: true });
      } catch (err) {
        replace(out, message(err.message));
      }
    },
  },
  field('E-mail address', email),
  field('Password', password, 'At least 10 characters.'),
  h('fieldset', {}, h('legend', {}, 'Account type'),
    h('label', { class: 'check', for: 'role-listener' }, listener, 'Listener: stream music'),
    h('label', { class: 'check', for: 'role-creator' }, creator, 'Creator: upload and publish my music')),
  nameField, out,
  h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Create account')));
  sync();
  return {
    title: 'Sign up',
    node: h('div', {}, h('h1', {}, 'Create an account'), form,
      h('p', {}, 'Already registered? ', h('a', { href: '/login' }, 'Log in'))),
  };
}
