/* The reports on this phone, with their state, and the summary line above them. */
import {el, fmt} from '../common.js';
import {$, formatTime, strings} from './context.js';
import {editReport} from './draft.js';
import {categoryNames, fieldLabel, flattenErrors} from './fields.js';
import {authNeeded, lastProblem, nextTryAt, sendingNow} from './sending.js';
import {announce, reportDelete, reportsMine} from './store.js';

// ---- the queue on this phone ---------------------------------------------------------------------

let renderSeq = 0;

export async function renderQueue() {
  const seq = ++renderSeq;
  let records;
  try {
    records = await reportsMine();
  } catch (error) {
    $('queue-summary').textContent = error.message || String(error);
    return;
  }
  if (seq !== renderSeq) {
    return; // a later render is on its way
  }
  records.sort((a, b) => (a.created_at < b.created_at ? 1 : -1));
  const counts = {waiting: 0, failed: 0, sent: 0};
  const list = $('queue');
  list.replaceChildren();
  for (const record of records) {
    counts[record.state] = (counts[record.state] || 0) + 1;
    list.append(queueItem(record));
  }
  queueCounts = counts;
  renderSummary();
}

let queueCounts = null;

// The line above the queue; redrawn alone by the countdown, so that buttons below it stay put.
export function renderSummary() {
  const counts = queueCounts;
  if (!counts) {
    return;
  }
  const lines = [counts.waiting + counts.failed + counts.sent
    ? fmt(strings.summary, counts.waiting, counts.failed, counts.sent) : strings.nothingQueued];
  if (counts.waiting && authNeeded) {
    lines.push(strings.sessionEnded);
  } else if (counts.waiting && nextTryAt && navigator.onLine) {
    lines.push(fmt(strings.retryIn, Math.max(1, Math.round((nextTryAt - Date.now()) / 1000))));
  }
  if (counts.waiting && lastProblem) {
    lines.push(lastProblem);
  }
  $('queue-summary').textContent = lines.join(' · ');
}

function queueItem(record) {
  const sending = sendingNow.has(record.client_uuid);
  const item = el('li', 'item state-' + record.state + (sending ? ' sending' : ''));
  item.dataset.uuid = record.client_uuid;
  item.dataset.state = record.state;
  const head = el('div', 'item-head');
  head.append(el('strong', null, record.category_name || categoryNames[record.category] || record.category));
  head.append(el('span', 'badge badge-' + record.state, sending ? strings.sending : strings[record.state]));
  item.append(head);
  const meta = [formatTime(record.created_at)];
  const photoCount = record.state === 'sent' ? record.photo_count || 0 : (record.photos || []).length;
  if (photoCount) {
    meta.push(fmt(strings.photoN, photoCount));
  }
  if (record.incident_id) {
    meta.push(fmt(strings.incidentNo, record.incident_id));
  }
  item.append(el('div', 'meta', meta.join(' · ')));
  if (record.note) {
    item.append(el('div', 'note', record.note));
  }
  if (record.state === 'failed') {
    const errors = el('ul', 'errors');
    if (record.conflict) {
      errors.append(el('li', null, strings.conflict));
    }
    for (const [field, message] of flattenErrors(record.errors)) {
      const label = fieldLabel(field);
      errors.append(el('li', null, label ? label + ': ' + message : message));
    }
    item.append(errors);
    const actions = el('div', 'actions');
    if (!record.conflict) {
      const edit = el('button', 'button secondary small edit', strings.editResend);
      edit.type = 'button';
      edit.addEventListener('click', () => editReport(record));
      actions.append(edit);
    }
    const discard = el('button', 'button danger small discard', strings.discard);
    discard.type = 'button';
    discard.addEventListener('click', async () => {
      if (window.confirm(strings.discardConfirm)) {
        await reportDelete(record.client_uuid);
        announce();
        renderQueue();
      }
    });
    actions.append(discard);
    item.append(actions);
  }
  return item;
}
