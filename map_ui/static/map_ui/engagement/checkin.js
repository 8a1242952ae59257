/* Check-ins from a member's phone, safe offline: each gets a client_uuid and waits in IndexedDB until the check-in
 * API answers it, and is sent again when the phone is back online (the API answers a resend with the same check-in,
 * so nothing is counted twice).
 *
 *   import {checkIn, resendQueued} from '…/engagement/checkin.js';
 *   const {status, message} = await checkIn({activityId, method: 'geofence', position, config});
 *   const {status, message} = await checkIn({activityId, method: 'code', code: '123456', config});
 *
 * status: "sent" (the API checked the member in, now or before), "queued" (no answer: kept and retried) or
 * "refused" (the API said why not: `message`). `position`: a GeolocationPosition, its `coords`, or
 * {lon, lat, accuracy, crs}. `config`: {api: {'activity-checkins': '/api/…/activities/{activity_id}/checkins/'},
 * csrfCookie, username, strings: {queued, offline}}; every key is optional. Call resendQueued(config) when the
 * page opens, so that what an earlier visit left is sent.
 */
import {csrfToken} from '../common.js';

const DB_NAME = 'gridline-checkins';
const STORE = 'checkins';
const DEFAULT_URL = '/api/v1/engagement/activities/{activity_id}/checkins/';
const RETRY_FIRST_MS = 5000;
const RETRY_MAX_MS = 5 * 60 * 1000;
const SEND_TIMEOUT_MS = 20000;

let dbPromise = null;
let lastConfig = {};
let retryTimer = null;
let retryDelay = RETRY_FIRST_MS;
let flushing = null;

function openDb() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      if (!window.indexedDB) {
        reject(new Error('IndexedDB is not available'));
        return;
      }
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore(STORE, {keyPath: 'client_uuid'}).createIndex('owner', 'owner');
      };
      request.onsuccess = () => {
        const db = request.result;
        db.onversionchange = () => db.close();
        db.onclose = () => {
          dbPromise = null;
        };
        resolve(db);
      };
      request.onerror = () => reject(request.error);
    });
    dbPromise.catch(() => {
      dbPromise = null;
    });
  }
  return dbPromise;
}

function done(transaction) {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error || new Error('IndexedDB transaction aborted'));
  });
}

async function put(record) {
  const transaction = (await openDb()).transaction(STORE, 'readwrite');
  transaction.objectStore(STORE).put(record);
  return done(transaction);
}

async function remove(uuid) {
  const transaction = (await openDb()).transaction(STORE, 'readwrite');
  transaction.objectStore(STORE).delete(uuid);
  return done(transaction);
}

async function waiting(owner) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const request = db.transaction(STORE).objectStore(STORE).index('owner').getAll(owner);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function newUuid() {
  if (window.crypto && crypto.randomUUID) {
    return crypto.randomUUID();
  }
  // crypto.randomUUID needs a secure context; a page served over plain http on a LAN still has getRandomValues
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function urlFor(config, activityId) {
  const template = (config.api && config.api['activity-checkins']) || DEFAULT_URL;
  return template.replace('{activity_id}', encodeURIComponent(activityId));
}

function coordinates(position) {
  if (!position) {
    return {};
  }
  const coords = position.coords || position;
  return {
    lon: coords.lon !== undefined ? coords.lon : coords.longitude,
    lat: coords.lat !== undefined ? coords.lat : coords.latitude,
    accuracy: coords.accuracy,
    crs: coords.crs || 'wgs84',
  };
}

function body(record) {
  const payload = {client_uuid: record.client_uuid, method: record.method, at: record.at};
  if (record.method === 'code') {
    payload.code = record.code;
  } else {
    Object.assign(payload, {lon: record.lon, lat: record.lat, accuracy: record.accuracy, crs: record.crs});
  }
  return payload;
}

// The API's words: `detail`, or each field's first message.
function messageOf(data, fallback) {
  if (!data || typeof data !== 'object') {
    return fallback;
  }
  if (typeof data.detail === 'string') {
    return data.detail;
  }
  if (typeof data.message === 'string') {
    return data.message;
  }
  const parts = [];
  for (const value of Object.values(data)) {
    const first = Array.isArray(value) ? value[0] : value;
    if (typeof first === 'string') {
      parts.push(first);
    }
  }
  return parts.length ? parts.join(' ') : fallback;
}

// One try: "sent", "refused" (a 4xx that a resend would get again) or "queued" (no answer, a 5xx, 429, a lost
// session: worth another try).
async function send(record, config) {
  const controller = new AbortController();
  const timeout = setTimeout(() => controller.abort(), SEND_TIMEOUT_MS);
  let response;
  try {
    response = await fetch(urlFor(config, record.activityId), {
      method: 'POST',
      credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', Accept: 'application/json',
        'X-CSRFToken': csrfToken(config.csrfCookie || 'csrftoken', '')},
      body: JSON.stringify(body(record)),
      signal: controller.signal,
    });
  } catch (error) {
    return {status: 'queued', message: (config.strings && config.strings.offline) || ''};
  } finally {
    clearTimeout(timeout);
  }
  const data = await response.json().catch(() => null);
  if (response.ok) {
    await remove(record.client_uuid);
    return {status: 'sent', message: messageOf(data, ''), checkin: data};
  }
  const retryable = response.status === 401 || response.status === 408 || response.status === 429
    || response.status >= 500;
  if (retryable) {
    return {status: 'queued', message: messageOf(data, (config.strings && config.strings.queued) || '')};
  }
  await remove(record.client_uuid);
  return {status: 'refused', message: messageOf(data, String(response.status))};
}

function scheduleRetry() {
  clearTimeout(retryTimer);
  const delay = Math.round(retryDelay * (0.8 + 0.4 * Math.random()));
  retryTimer = setTimeout(() => resendQueued(lastConfig), delay);
  retryDelay = Math.min(retryDelay * 2, RETRY_MAX_MS);
}

// Sends every check-in of this account that waits on the phone, one at a time; one run at a time per tab.
export function resendQueued(config) {
  lastConfig = config || lastConfig;
  if (!flushing) {
    flushing = (async () => {
      let left = 0;
      try {
        const owner = lastConfig.username || '';
        for (const record of await waiting(owner)) {
          const answer = await send(record, lastConfig);
          if (answer.status === 'queued') {
            left += 1;
          }
        }
      } finally {
        flushing = null;
      }
      if (left) {
        scheduleRetry();
      } else {
        retryDelay = RETRY_FIRST_MS;
      }
      return left;
    })();
  }
  return flushing;
}

window.addEventListener('online', () => {
  retryDelay = RETRY_FIRST_MS;
  resendQueued(lastConfig);
});

export async function checkIn({activityId, method, code, position, config}) {
  lastConfig = config || lastConfig;
  const record = {
    client_uuid: newUuid(),
    owner: lastConfig.username || '',
    activityId: activityId,
    method: method,
    code: code || null,
    ...coordinates(position),
    at: new Date().toISOString(), // when the member checked in, also when it reaches the server later
    created_at: Date.now(),
  };
  await put(record); // kept before the first try: a page closed mid-request loses nothing
  if (flushing) {
    await flushing.catch(() => {});
  }
  const answer = await send(record, lastConfig);
  if (answer.status === 'queued') {
    scheduleRetry();
  }
  return {status: answer.status, message: answer.message, checkin: answer.checkin};
}
