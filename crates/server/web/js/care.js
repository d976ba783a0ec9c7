// Care mode (ageing-friendly display). Remembered per device (localStorage) and per account
// (PATCH /api/me {care_mode}); the switch sits in the header of every page.
import { api, session } from './api.js';
import { announce } from './dom.js';

const KEY = 'encore.care';
const listeners = new Set();

export function careOn() {
  return document.documentElement.classList.contains('care');
}

/** The device's stored choice: true, false or null (never chosen). */
export function deviceChoice() {
  try {
    const v = localStorage.getItem(KEY);
    return v === null ? null : v === '1';
  } catch {
    return null;
  }
}

function apply(on) {
  document.documentElement.classList.toggle('care', on);
  const button = document.getElementById('care-toggle');
  if (button) button.setAttribute('aria-pressed', String(on));
  try { localStorage.setItem(KEY, on ? '1' : '0'); } catch { /* private mode */ }
  for (const f of listeners) f(on);
}

export function onCareChange(f) {
  listeners.add(f);
  return () => listeners.delete(f);
}

/** Sets care mode on this device and, when signed in, on the account. */
export async function setCare(on) {
  apply(on);
  announce(on ? 'Care mode on: larger text and buttons' : 'Care mode off');
  if (session.me && session.me.care_mode !== on) {
    try {
      session.me = await api('/api/me', { method: 'PATCH', body: { care_mode: on } });
    } catch { /* the device keeps the choice; the account is updated next time */ }
  }
}

/** At start-up: the device's choice, else the account's. */
export function initCare() {
  const device = deviceChoice();
  apply(device ?? Boolean(session.me && session.me.care_mode));
  document.getElementById('care-toggle')?.addEventListener('click', () => setCare(!careOn()));
}

/** After signing in: the account's stored choice wins when it has one set to on; otherwise
 * the device's choice is saved to the account. */
export async function syncCareAfterLogin() {
  if (!session.me) return;
  if (session.me.care_mode) apply(true);
  else if (careOn()) await setCare(true);
}
