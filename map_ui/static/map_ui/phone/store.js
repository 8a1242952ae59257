/* The reports and the draft kept on this phone, in IndexedDB. */
import {DB_NAME, DB_VERSION, owner, strings} from './context.js';

// ---- IndexedDB -----------------------------------------------------------------------------------
// Store "reports" (key client_uuid, index owner) holds the queue; store "drafts" (key owner) the form.

let dbPromise = null;

function openDb() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      if (!window.indexedDB) {
        reject(new Error(strings.noStorage));
        return;
      }
      const request = indexedDB.open(DB_NAME, DB_VERSION);
      request.onupgradeneeded = () => {
        const db = request.result;
        db.createObjectStore('reports', {keyPath: 'client_uuid'}).createIndex('owner', 'owner');
        db.createObjectStore('drafts', {keyPath: 'owner'});
      };
      request.onsuccess = () => {
        const db = request.result;
        db.onversionchange = () => db.close(); // a newer page upgrades the schema; reopen on next use
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

function requestDone(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

function transactionDone(transaction) {
  return new Promise((resolve, reject) => {
    transaction.oncomplete = () => resolve();
    transaction.onerror = () => reject(transaction.error);
    transaction.onabort = () => reject(transaction.error || new Error('IndexedDB transaction aborted'));
  });
}

export async function reportsMine() {
  const db = await openDb();
  const transaction = db.transaction('reports');
  return requestDone(transaction.objectStore('reports').index('owner').getAll(owner));
}

// The report and the removal of the draft it came from commit together: a crash cannot leave both
// (the user would file the same report twice) or neither (the report would be lost).
export async function reportQueue(record) {
  const db = await openDb();
  const transaction = db.transaction(['reports', 'drafts'], 'readwrite');
  transaction.objectStore('reports').put(record);
  transaction.objectStore('drafts').delete(owner);
  return transactionDone(transaction);
}

// changes: client_uuid -> function(record) returning the new record, or null to leave it as it is.
export async function reportsChange(changes) {
  const db = await openDb();
  const transaction = db.transaction('reports', 'readwrite');
  const store = transaction.objectStore('reports');
  for (const [uuid, change] of changes) {
    const request = store.get(uuid);
    request.onsuccess = () => {
      const next = request.result ? change(request.result) : null;
      if (next) {
        store.put(next);
      }
    };
  }
  return transactionDone(transaction);
}

export async function reportDelete(uuid) {
  const db = await openDb();
  const transaction = db.transaction('reports', 'readwrite');
  transaction.objectStore('reports').delete(uuid);
  return transactionDone(transaction);
}

export async function draftRead() {
  const db = await openDb();
  return requestDone(db.transaction('drafts').objectStore('drafts').get(owner));
}

export async function draftWrite(draft) {
  const db = await openDb();
  const transaction = db.transaction('drafts', 'readwrite');
  if (draft) {
    transaction.objectStore('drafts').put(draft);
  } else {
    transaction.objectStore('drafts').delete(owner);
  }
  return transactionDone(transaction);
}

// Writes of the draft and of queued reports run one after another, in the order they were asked for.
let writes = Promise.resolve();
export function serial(fn) {
  const next = writes.then(fn);
  writes = next.catch(() => {});
  return next;
}

// Other tabs of this page re-read the queue when one of them changed it.
export const channel = 'BroadcastChannel' in window ? new BroadcastChannel('gridline-phone') : null;
export function announce() {
  if (channel) {
    channel.postMessage({owner: owner, type: 'changed'});
  }
}
