// The admin area: review queue (reviewers and admins), users and job counts (admins).
import { api, isStaff } from '../api.js';
import { h, replace, message, date, announce, tableWrap } from '../dom.js';

const ROLES = ['listener', 'creator', 'reviewer', 'admin'];

export async function page({ me }) {
  if (!isStaff(me)) {
    return { title: 'Admin', node: h('div', {}, h('h1', {}, 'Admin'), h('p', {}, 'This area is for reviewers and administrators.')) };
  }
  const reviewsBox = h('div', {});
  async function drawReviews() {
    const r = await api('/api/reviews');
    replace(reviewsBox, r.items.length ? h('ul', { id: 'reviews' }, r.items.map((x) => {
      const note = h('input', { type: 'text', id: `note-${x.id}` });
      const out = h('div', {});
      const decide = (approve) => async () => {
        try {
          await api(`/api/reviews/${encodeURIComponent(x.id)}/decision`, { method: 'POST', body: { approve, note: note.value } });
          announce(approve ? `Approved ${x.title}` : `Rejected ${x.title}`);
          drawReviews();
        } catch (e) { replace(out, message(e.message)); }
      };
      return h('li', { class: 'card' },
        h('h3', {}, h('a', { href: `/studio/works/${encodeURIComponent(x.work_id)}` }, x.title)),
        h('p', {}, `Held by the ${x.step} step: ${x.reason}, ${date(x.created_at)}.`),
        h('div', { class: 'field' }, h('label', { for: `note-${x.id}` }, 'Note'), note),
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'primary', onclick: decide(true) }, 'Approve', h('span', { class: 'visually-hidden' }, ` ${x.title}`)),
          h('button', { type: 'button', class: 'danger', onclick: decide(false) }, 'Reject', h('span', { class: 'visually-hidden' }, ` ${x.title}`))),
        out);
    })) : h('p', {}, 'No works are waiting for review.'));
  }
  await drawReviews();
  const sections = [h('section', { 'aria-labelledby': 'reviews-h' }, h('h2', { id: 'reviews-h' }, 'Review queue'), reviewsBox)];

  if (me.role === 'admin') {
    const users = await api('/api/admin/users');
    const jobs = await api('/api/admin/jobs');
    const statuses = ['queued', 'running', 'done', 'failed'];
    sections.push(h('section', { 'aria-labelledby': 'users-h' }, h('h2', { id: 'users-h' }, 'Users'),
      tableWrap('Accounts', h('table', { id: 'users' },
        h('caption', { class: 'visually-hidden' }, 'Accounts'),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'E-mail'), h('th', { scope: 'col' }, 'Role'), h('th', { scope: 'col' }, 'Created'))),
        h('tbody', {}, users.items.map((u) => {
          const select = h('select', {
            'aria-label': `Role of ${u.email}`,
            disabled: u.id === me.id,
            onchange: async (e) => {
              try {
                await api(`/api/admin/users/${encodeURIComponent(u.id)}/role`, { method: 'PUT', body: { role: e.target.value } });
                announce(`${u.email} is now ${e.target.value}`);
              } catch (err) { announce(`The role was not changed: ${err.message}`); e.target.value = u.role; }
            },
          }, ROLES.map((r) => h('option', { value: r, selected: r === u.role }, r)));
          return h('tr', {}, h('th', { scope: 'row' }, u.email), h('td', {}, select), h('td', {}, date(u.created_at)));
        }))))));
    sections.push(h('section', { 'aria-labelledby': 'jobs-h' }, h('h2', { id: 'jobs-h' }, 'Jobs'),
      Object.keys(jobs).length ? tableWrap('Jobs by step and status', h('table', { id: 'job-stats' },
        h('caption', { class: 'visually-hidden' }, 'Jobs by step and status'),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Step'), statuses.map((s) => h('th', { scope: 'col' }, s)))),
        h('tbody', {}, Object.entries(jobs).map(([step, counts]) => h('tr', {}, h('th', { scope: 'row' }, step),
          statuses.map((s) => h('td', {}, String(counts[s] || 0))))))))
        : h('p', {}, 'No jobs yet.')));
  }
  return { title: 'Admin', node: h('div', {}, h('h1', {}, 'Admin'), ...sections) };
}
