/* Sending what waits: one request at a time (a Web Lock across tabs), retried with a back-off until answered. */
import {fmt} from '../common.js';
import {
  $, BATCH_BYTES, BATCH_ITEMS, config, LOCK_NAME, owner, pageCsrfToken, RETRY_FIRST_MS, RETRY_MAX_MS, SEND_TIMEOUT_MS,
  SENT_KEEP, strings,
} from './context.js';
import {loadMine} from './mine.js';
import {renderQueue, renderSummary} from './queue.js';
import {announce, reportDelete, reportsChange, reportsMine} from './store.js';

// ---- sending -------------------------------------------------------------------------------------

let inFlight = false;
let again = false;
let retryTimer = null;
let retryDelay = RETRY_FIRST_MS;
export let nextTryAt = null;
export let authNeeded = false;
export let lastProblem = null; // why the last try did not get an answer, when the server said why
export const sendingNow = new Set(); // client_uuids of the request in flight

export function setAuthNeeded(needed) {
  authNeeded = needed;
  $('auth-banner').hidden = !needed;
  renderSummary();
}

function clearRetry() {
  clearTimeout(retryTimer);
  retryTimer = null;
  nextTryAt = null;
}

function scheduleRetry() {
  clearRetry();
  const delay = Math.round(retryDelay * (0.8 + 0.4 * Math.random()));
  nextTryAt = Date.now() + delay;
  retryTimer = setTimeout(() => {
    retryTimer = null;
    nextTryAt = null;
    flush();
  }, delay);
  retryDelay = Math.min(retryDelay * 2, RETRY_MAX_MS);
}

// Sends what waits, one request at a time in this tab and across tabs; safe to call at any moment.
export async function flush() {
  if (inFlight) {
    again = true;
    return;
  }
  inFlight = true;
  try {
    do {
      again = false;
      if (navigator.locks) {
        // Another tab that holds the lock is sending; when it is done, this one finds the queue sent.
        await navigator.locks.request(LOCK_NAME, () => sendWaiting());
      } else {
        await sendWaiting();
      }
    } while (again);
  } catch (error) {
    scheduleRetry();
  } finally {
    inFlight = false;
    renderQueue();
  }
}

// Now rather than at the next timer, with the back-off started afresh.
export function sendNowAndRefresh() {
  retryDelay = RETRY_FIRST_MS;
  flush();
}

function payload(record) {
  return {client_uuid: record.client_uuid, kind: record.kind, lon: record.lon, lat: record.lat, crs: record.crs,
    category: record.category, note: record.note};
}

function chunksOf(records) {
  const chunks = [];
  let chunk = [];
  let bytes = 0;
  for (const record of records) {
    const size = (record.photos || []).reduce((sum, photo) => sum + photo.blob.size, 0);
    if (chunk.length && (chunk.length >= BATCH_ITEMS || bytes + size > BATCH_BYTES)) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(record);
    bytes += size;
  }
  if (chunk.length) {
    chunks.push(chunk);
  }
  return chunks;
}

async function sendWaiting() {
  if (!navigator.onLine) {
    clearRetry(); // the "online" event sends
    return;
  }
  const waiting = (await reportsMine()).filter((record) => record.state === 'waiting')
    .sort((a, b) => (a.queued_at < b.queued_at ? -1 : 1));
  if (!waiting.length) {
    clearRetry();
    retryDelay = RETRY_FIRST_MS;
    return;
  }
  let sentAny = false;
  for (const chunk of chunksOf(waiting)) {
    const outcome = await sendChunk(chunk);
    if (outcome === 'retry') {
      scheduleRetry();
      return;
    }
    sentAny = true;
  }
  clearRetry();
  retryDelay = RETRY_FIRST_MS;
  if (sentAny) {
    await pruneSent();
    announce();
    loadMine();
  }
}

// One request; resolves 'done' when the server answered for these reports, 'retry' when it did not.
async function sendChunk(chunk) {
  const body = new FormData();
  body.append('reports', JSON.stringify(chunk.map(payload)));
  body.append('reporter', owner); // the server refuses (409) if another account is logged in now
  for (const record of chunk) {
    for (const photo of record.photos || []) {
      body.append('photos:' + record.client_uuid, photo.blob, photo.name);
    }
  }
  chunk.forEach((record) => sendingNow.add(record.client_uuid));
  renderQueue();
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), SEND_TIMEOUT_MS);
  let response;
  let answer = null;
  try {
    response = await fetch(config.api.batch, {
      method: 'POST',
      body: body,
      credentials: 'same-origin',
      signal: abort.signal,
      headers: {'X-CSRFToken': pageCsrfToken(), Accept: 'application/json'},
    });
    answer = await response.json().catch(() => null);
  } catch (error) {
    return 'retry'; // offline, timed out, or the answer was lost: the same client_uuids go again
  } finally {
    clearTimeout(timer);
    chunk.forEach((record) => sendingNow.delete(record.client_uuid));
  }
  lastProblem = null;
  if (response.status === 401 || response.status === 403 || response.redirected) {
    setAuthNeeded(true); // kept as they are; sent after the user logs in again
    return 'retry';
  }
  if (response.status === 409 && answer && answer.reporter) {
    // logged in again, but as somebody else: the queue waits for the account that filled it
    lastProblem = String(answer.reporter);
    setAuthNeeded(true);
    return 'retry';
  }
  if (response.status === 400 || response.status === 413) {
    // The batch as a whole was refused: alone, each report gets its own answer.
    if (chunk.length > 1) {
      for (const record of chunk) {
        if ((await sendChunk([record])) === 'retry') {
          return 'retry';
        }
      }
      return 'done';
    }
    const errors = answer && typeof answer === 'object' ? answer : fmt(strings.serverRefused, response.status);
    await applyResults(chunk, [{client_uuid: chunk[0].client_uuid, result: 'invalid', errors: errors}]);
    return 'done';
  }
  if (!response.ok || !answer || !Array.isArray(answer.results)) {
    lastProblem = fmt(strings.serverRefused, response.status);
    return 'retry';
  }
  setAuthNeeded(false);
  await applyResults(chunk, answer.results);
  return 'done';
}

async function applyResults(chunk, results) {
  const byUuid = new Map();
  results.forEach((result, i) => {
    if (result && typeof result === 'object') {
      byUuid.set(String(result.client_uuid || (chunk[i] && chunk[i].client_uuid)).toLowerCase(), result);
    }
  });
  const now = new Date().toISOString();
  const changes = new Map();
  for (const sent of chunk) {
    const result = byUuid.get(sent.client_uuid.toLowerCase());
    if (!result) {
      continue; // no word on it: it stays waiting and goes again
    }
    changes.set(sent.client_uuid, (record) => {
      if (result.result === 'created' || result.result === 'existing') {
        // acknowledged: the photos are on the server, the phone keeps a line for the "sent" list
        return {...record, state: 'sent', photos: [], photo_count: (sent.photos || []).length, errors: null,
          sent_at: now, incident_id: result.id, incident_status: result.status};
      }
      if (record.revision !== sent.revision || record.state !== 'waiting') {
        return null; // changed since it was sent: the new version goes on its own
      }
      if (result.result === 'invalid' || result.result === 'conflict') {
        return {...record, state: 'failed', errors: result.errors || null, conflict: result.result === 'conflict'};
      }
      return null;
    });
  }
  await reportsChange(changes);
}

async function pruneSent() {
  const sent = (await reportsMine()).filter((record) => record.state === 'sent')
    .sort((a, b) => (a.sent_at < b.sent_at ? 1 : -1));
  for (const record of sent.slice(SENT_KEEP)) {
    await reportDelete(record.client_uuid);
  }
}
