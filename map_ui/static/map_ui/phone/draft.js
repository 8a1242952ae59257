/* The form kept as a draft on this phone, the fixing of a refused report, and the submit that queues a report. */
/* global L */
import {fmt} from '../common.js';
import {$, DRAFT_DELAY_MS, newUuid, owner, strings} from './context.js';
import {
  categoryNames, categorySelect, clearErrors, FIELD_OF, flattenErrors, noteInput, renderPhotos, setCategory,
  setFieldErrors,
} from './fields.js';
import {form, setLocation, useFix} from './location.js';
import {renderQueue} from './queue.js';
import {flush} from './sending.js';
import {announce, draftRead, draftWrite, reportQueue, serial} from './store.js';

// ---- the form: draft -----------------------------------------------------------------------------

let draftTimer = null;

function formSnapshot() {
  const empty = !categorySelect.value && !noteInput.value.trim() && !form.photos.length && !form.manual
    && !form.editing;
  if (empty) {
    return null;
  }
  return {
    owner: owner,
    category: categorySelect.value,
    note: noteInput.value,
    lon: form.lon, lat: form.lat, accuracy: form.accuracy, manual: form.manual,
    photos: form.photos.map((photo) => ({name: photo.name, type: photo.type, blob: photo.blob})),
    editing: form.editing,
    saved_at: new Date().toISOString(),
  };
}

export function draftSoon(delay) {
  clearTimeout(draftTimer);
  draftTimer = setTimeout(draftSave, delay === undefined ? DRAFT_DELAY_MS : delay);
}

function draftSave() {
  clearTimeout(draftTimer);
  draftTimer = null;
  // The snapshot is taken when this write's turn comes, so a write queued before a submit saves the
  // emptied form (no draft), never the report that was just queued.
  return serial(async () => {
    const draft = formSnapshot();
    await draftWrite(draft);
    $('draft-status').textContent = draft ? strings.draftSaved : '';
  }).catch((error) => {
    $('draft-status').textContent = fmt(strings.storageFailed, error.message || error);
  });
}

export async function draftRestore() {
  const draft = await draftRead();
  if (!draft) {
    return;
  }
  setCategory(draft.category);
  noteInput.value = draft.note || '';
  form.photos = (draft.photos || []).map((photo) => ({...photo, url: null}));
  form.editing = draft.editing || null;
  if (draft.lat !== null && draft.lat !== undefined) {
    setLocation(draft.lon, draft.lat, draft.accuracy, Boolean(draft.manual), true);
  }
  renderPhotos();
  renderEditing();
  $('draft-status').textContent = strings.draftSaved;
}

// Leaving the page (or the app) writes what was typed in the last moment.
window.addEventListener('pagehide', () => draftTimer && draftSave());
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'hidden' && draftTimer) {
    draftSave();
  }
});

// ---- the form: editing a refused report, submit --------------------------------------------------

function renderEditing() {
  $('editing').hidden = !form.editing;
}

function resetForm() {
  categorySelect.value = '';
  noteInput.value = '';
  form.photos.forEach((photo) => photo.url && URL.revokeObjectURL(photo.url));
  form.photos = [];
  form.editing = null;
  form.manual = false;
  useFix(false);
  renderPhotos();
  renderEditing();
  clearErrors();
  $('draft-status').textContent = '';
}

export function editReport(record) {
  resetForm();
  form.editing = {client_uuid: record.client_uuid, created_at: record.created_at, revision: record.revision};
  setCategory(record.category);
  noteInput.value = record.note || '';
  form.photos = (record.photos || []).map((photo) => ({...photo, url: null}));
  setLocation(record.lon, record.lat, record.accuracy, true, true);
  renderPhotos();
  renderEditing();
  const byField = {};
  for (const [field, message] of flattenErrors(record.errors)) {
    const target = FIELD_OF[field] || 'non_field_errors';
    (byField[target] = byField[target] || []).push(message);
  }
  Object.entries(byField).forEach(([field, messages]) => setFieldErrors(field, messages));
  draftSoon(0);
  $('report-form').scrollIntoView({behavior: 'smooth'});
}

$('edit-cancel').addEventListener('click', () => {
  resetForm();
  draftSoon(0);
});

let persisted = false;

$('report-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  clearErrors();
  const problems = [];
  if (form.lat === null) {
    problems.push(['location', strings.needLocation]);
  }
  if (!categorySelect.value) {
    problems.push(['category', strings.needCategory]);
  }
  if (problems.length) {
    problems.forEach(([field, message]) => setFieldErrors(field, [message]));
    return;
  }
  clearTimeout(draftTimer);
  draftTimer = null;
  const submit = $('submit');
  submit.disabled = true;
  try {
    await serial(async () => {
      const now = new Date().toISOString();
      const editing = form.editing;
      const record = {
        client_uuid: editing ? editing.client_uuid : newUuid(), // a fixed report keeps its id: resends stay one
        owner: owner,
        kind: 'report',
        lon: form.lon,
        lat: form.lat,
        crs: 'wgs84',
        accuracy: form.accuracy,
        manual: form.manual,
        category: categorySelect.value,
        category_name: categoryNames[categorySelect.value] || categorySelect.value,
        note: noteInput.value.trim(),
        photos: form.photos.map((photo) => ({name: photo.name, type: photo.type, blob: photo.blob})),
        state: 'waiting',
        errors: null,
        created_at: editing ? editing.created_at : now,
        queued_at: now,
        revision: (editing ? editing.revision || 0 : 0) + 1,
      };
      await reportQueue(record);
      resetForm();
    });
    $('draft-status').textContent = strings.saved;
  } catch (error) {
    setFieldErrors('non_field_errors', [fmt(strings.storageFailed, error.message || error)]);
    return;
  } finally {
    submit.disabled = false;
  }
  if (!persisted && navigator.storage && navigator.storage.persist) {
    persisted = true;
    navigator.storage.persist().catch(() => {}); // ask the browser not to evict the queue under pressure
  }
  announce();
  await renderQueue();
  flush();
});
