/* Gridline phone report page: file reports offline, send them when the network allows.
 *
 * A report is written to IndexedDB (with its photos as Blobs and a fresh client_uuid) before anything is
 * sent, and stays there until the batch API answers "created" or "existing" for its client_uuid. Sends go
 * one at a time (a flag in this tab, a Web Lock across tabs), and a resend of the same client_uuid never
 * makes a second incident on the server, so a lost answer costs one more request, never a duplicate.
 */
/* global L */
(function () {
  'use strict';

  const config = JSON.parse(document.getElementById('phone-config').textContent);
  const strings = {};
  document.querySelectorAll('#phone-i18n [data-key]').forEach((el) => {
    strings[el.dataset.key] = el.textContent.trim();
  });
  const $ = (id) => document.getElementById(id);
  const owner = config.username;

  const DB_NAME = 'gridline-phone';
  const DB_VERSION = 1;
  const LOCK_NAME = 'gridline-phone-send';
  const BATCH_ITEMS = 10; // 10 reports of up to 9 photos stay under Django's 100 files per request
  const BATCH_BYTES = 16 * 1024 * 1024;
  const RETRY_FIRST_MS = 5000;
  const RETRY_MAX_MS = 5 * 60 * 1000;
  const SEND_TIMEOUT_MS = 120 * 1000;
  const SENT_KEEP = 50; // acknowledged reports kept (without photos) for the "sent" list
  const SHRINK_TO_PX = 3000;
  const DRAFT_DELAY_MS = 300;
  const MINE_KEY = 'gridline-phone-mine:' + owner;
  const CATEGORIES_KEY = 'gridline-phone-categories';
  const LAST_FIX_KEY = 'gridline-phone-last-fix';

  // ---- small helpers -------------------------------------------------------------------------------

  function fmt(template, ...values) {
    let text = template;
    values.forEach((value, i) => {
      text = text.replace('%' + (i + 1), value);
    });
    return values.length ? text.replace('%s', values[0]) : text;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = text;
    }
    return node;
  }

  const formatTime = (iso) => (iso ? new Date(iso).toLocaleString(document.documentElement.lang || undefined,
    {timeZone: config.timeZone, dateStyle: 'short', timeStyle: 'short'}) : '');

  function newUuid() {
    if (window.crypto && typeof crypto.randomUUID === 'function') {
      return crypto.randomUUID();
    }
    // randomUUID needs a secure context; getRandomValues does not (a plain-HTTP intranet server).
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function readJson(key) {
    try {
      return JSON.parse(localStorage.getItem(key) || 'null');
    } catch (error) {
      return null;
    }
  }

  function writeJson(key, value) {
    try {
      localStorage.setItem(key, JSON.stringify(value));
    } catch (error) {
      // a full or disabled localStorage only costs the offline copy of a list
    }
  }

  class HttpError extends Error {
    constructor(status) {
      super('HTTP ' + status);
      this.status = status;
    }
  }

  async function getJson(url) {
    const response = await fetch(url, {credentials: 'same-origin', headers: {Accept: 'application/json'}});
    if (!response.ok) {
      throw new HttpError(response.status);
    }
    return response.json();
  }

  function csrfToken() {
    // The cookie first: logging in again (in another tab) rotates the token this page was rendered with.
    for (const part of document.cookie.split(';')) {
      const [name, ...rest] = part.trim().split('=');
      if (name === config.csrfCookie) {
        return decodeURIComponent(rest.join('='));
      }
    }
    const input = document.querySelector('input[name=csrfmiddlewaretoken]');
    return input ? input.value : '';
  }

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

  async function reportsMine() {
    const db = await openDb();
    const transaction = db.transaction('reports');
    return requestDone(transaction.objectStore('reports').index('owner').getAll(owner));
  }

  // The report and the removal of the draft it came from commit together: a crash cannot leave both
  // (the user would file the same report twice) or neither (the report would be lost).
  async function reportQueue(record) {
    const db = await openDb();
    const transaction = db.transaction(['reports', 'drafts'], 'readwrite');
    transaction.objectStore('reports').put(record);
    transaction.objectStore('drafts').delete(owner);
    return transactionDone(transaction);
  }

  // changes: client_uuid -> function(record) returning the new record, or null to leave it as it is.
  async function reportsChange(changes) {
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

  async function reportDelete(uuid) {
    const db = await openDb();
    const transaction = db.transaction('reports', 'readwrite');
    transaction.objectStore('reports').delete(uuid);
    return transactionDone(transaction);
  }

  async function draftRead() {
    const db = await openDb();
    return requestDone(db.transaction('drafts').objectStore('drafts').get(owner));
  }

  async function draftWrite(draft) {
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
  function serial(fn) {
    const next = writes.then(fn);
    writes = next.catch(() => {});
    return next;
  }

  // Other tabs of this page re-read the queue when one of them changed it.
  const channel = 'BroadcastChannel' in window ? new BroadcastChannel('gridline-phone') : null;
  function announce() {
    if (channel) {
      channel.postMessage({owner: owner, type: 'changed'});
    }
  }

  // ---- network line --------------------------------------------------------------------------------

  function renderNetwork() {
    const online = navigator.onLine;
    const node = $('network');
    node.textContent = online ? strings.online : strings.offline;
    node.classList.toggle('offline', !online);
  }

  // ---- the form: location --------------------------------------------------------------------------

  const form = {
    lon: null, lat: null, accuracy: null, manual: false, // manual: the pin was placed by hand
    photos: [], // {name, type, blob, url}
    editing: null, // {client_uuid, created_at, revision} of a failed report being fixed
  };
  let lastFix = null;

  const lastKnown = readJson(LAST_FIX_KEY);
  const map = L.map('pin-map', {zoomControl: true, attributionControl: Boolean(config.tileAttribution)})
    .setView(lastKnown ? [lastKnown.lat, lastKnown.lon] : [35.0, 105.0], lastKnown ? 16 : 4);
  if (config.tileUrl) {
    L.tileLayer(config.tileUrl, {maxZoom: 19, attribution: config.tileAttribution || ''}).addTo(map);
  }
  const pinIcon = L.divIcon({className: 'gl-pin', html: '<span></span>', iconSize: [44, 44], iconAnchor: [22, 41]});
  let pin = null;
  let accuracyCircle = null;

  function renderLocation() {
    const text = $('location-text');
    if (form.lat === null) {
      text.textContent = lastFix === false ? strings.noLocation : strings.locating;
      return;
    }
    let line = form.lat.toFixed(6) + ', ' + form.lon.toFixed(6);
    if (form.manual) {
      line += ' (' + strings.pinMoved + ')';
    } else if (form.accuracy) {
      line += ' ' + fmt(strings.accuracy, Math.round(form.accuracy));
    }
    text.textContent = line;
  }

  function setLocation(lon, lat, accuracy, manual, recentre) {
    form.lon = lon;
    form.lat = lat;
    form.accuracy = accuracy;
    form.manual = manual;
    const latlng = [lat, lon];
    if (!pin) {
      pin = L.marker(latlng, {draggable: true, icon: pinIcon, autoPan: true}).addTo(map);
      pin.on('dragend', () => {
        const at = pin.getLatLng();
        setLocation(at.lng, at.lat, null, true, false);
        draftSoon(0);
      });
    } else {
      pin.setLatLng(latlng);
    }
    if (accuracy && !manual) {
      if (!accuracyCircle) {
        accuracyCircle = L.circle(latlng, {radius: accuracy, className: 'gl-accuracy', interactive: false}).addTo(map);
      }
      accuracyCircle.setLatLng(latlng).setRadius(accuracy);
    } else if (accuracyCircle) {
      accuracyCircle.remove();
      accuracyCircle = null;
    }
    if (recentre) {
      map.setView(latlng, Math.max(map.getZoom(), 17));
    } else if (!map.getBounds().contains(latlng)) {
      map.panTo(latlng); // the phone moved out of view
    }
    setFieldErrors('location', []);
    renderLocation();
  }

  function clearLocation() {
    form.lon = form.lat = form.accuracy = null;
    form.manual = false;
    if (pin) {
      pin.remove();
      pin = null;
    }
    if (accuracyCircle) {
      accuracyCircle.remove();
      accuracyCircle = null;
    }
    renderLocation();
  }

  function useFix(recentre) {
    if (lastFix) {
      setLocation(lastFix.lon, lastFix.lat, lastFix.accuracy, false, recentre);
    } else {
      clearLocation();
    }
  }

  function startLocating() {
    if (!navigator.geolocation) {
      lastFix = false;
      renderLocation();
      return;
    }
    let first = true;
    // Browsers give WGS 84 coordinates: the reports say crs "wgs84".
    navigator.geolocation.watchPosition((position) => {
      lastFix = {lon: position.coords.longitude, lat: position.coords.latitude, accuracy: position.coords.accuracy};
      writeJson(LAST_FIX_KEY, {lon: lastFix.lon, lat: lastFix.lat});
      if (!form.manual) {
        setLocation(lastFix.lon, lastFix.lat, lastFix.accuracy, false, first);
        first = false;
      }
    }, () => {
      if (!lastFix) {
        lastFix = false;
        renderLocation();
      }
    }, {enableHighAccuracy: true, maximumAge: 10000, timeout: 30000});
  }

  map.on('click', (event) => {
    setLocation(event.latlng.lng, event.latlng.lat, null, true, false);
    draftSoon(0);
  });
  $('locate').addEventListener('click', () => {
    form.manual = false;
    useFix(true);
    if (!lastFix) {
      startLocating();
    }
    draftSoon(0);
  });

  // ---- the form: category, note, photos ------------------------------------------------------------

  const categorySelect = $('category');
  const noteInput = $('note');
  const photoInput = $('photo-input');
  let categoryNames = {};

  function categoryLabel(category) {
    const english = (document.documentElement.lang || '').startsWith('en');
    return (english && category.name_en) || category.name || category.code;
  }

  function fillCategories(list) {
    const current = categorySelect.value;
    categoryNames = {};
    categorySelect.querySelectorAll('option[value]:not([value=""])').forEach((option) => option.remove());
    for (const category of list) {
      categoryNames[category.code] = categoryLabel(category);
      const option = el('option', null, categoryNames[category.code]);
      option.value = category.code;
      categorySelect.append(option);
    }
    setCategory(current);
  }

  function setCategory(code) {
    if (code && !categorySelect.querySelector(`option[value="${CSS.escape(code)}"]`)) {
      const option = el('option', null, categoryNames[code] || code); // from a draft, before the list loaded
      option.value = code;
      categorySelect.append(option);
    }
    categorySelect.value = code || '';
  }

  async function loadCategories() {
    try {
      const list = await getJson(config.api.categories);
      writeJson(CATEGORIES_KEY, list);
      fillCategories(list);
    } catch (error) {
      const cached = readJson(CATEGORIES_KEY);
      if (cached) {
        fillCategories(cached);
      } else {
        setFieldErrors('category', [strings.categoriesFailed]);
      }
    }
  }

  function renderPhotos() {
    const box = $('thumbs');
    box.replaceChildren();
    form.photos.forEach((photo, index) => {
      if (!photo.url) {
        photo.url = URL.createObjectURL(photo.blob);
      }
      const item = el('figure', 'thumb');
      const img = el('img');
      img.src = photo.url;
      img.alt = photo.name;
      const remove = el('button', 'thumb-remove', '×');
      remove.type = 'button';
      remove.title = strings.removePhoto;
      remove.setAttribute('aria-label', strings.removePhoto);
      remove.addEventListener('click', () => {
        URL.revokeObjectURL(photo.url);
        form.photos.splice(index, 1);
        renderPhotos();
        draftSoon(0);
      });
      item.append(img, remove);
      box.append(item);
    });
    $('photo-count').textContent = form.photos.length ? `(${form.photos.length}/${config.photosMax})` : '';
    document.querySelector('label[for=photo-input]').classList.toggle('disabled', form.photos.length >= config.photosMax);
  }

  // Very large camera photos are re-encoded smaller before they are queued (the server takes at most
  // photoMaxBytes each); this drops their EXIF, which the server strips anyway.
  async function shrink(blob) {
    const bitmap = await createImageBitmap(blob, {imageOrientation: 'from-image'});
    const scale = Math.min(1, SHRINK_TO_PX / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    const smaller = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.85));
    if (!smaller) {
      throw new Error('toBlob failed');
    }
    return smaller;
  }

  async function addPhotos(files) {
    const messages = [];
    const room = config.photosMax - form.photos.length;
    if (files.length > room) {
      messages.push(fmt(strings.tooManyPhotos, config.photosMax));
    }
    for (const file of files.slice(0, Math.max(room, 0))) {
      try {
        // A copy of the bytes now: a camera's File can point at a temporary file that goes away.
        let blob = new Blob([await file.arrayBuffer()], {type: file.type || 'image/jpeg'});
        let name = file.name || 'photo.jpg';
        if (blob.size > config.photoMaxBytes) {
          blob = await shrink(blob);
          name = name.replace(/\.[^.]*$/, '') + '.jpg';
        }
        form.photos.push({name: name, type: blob.type, blob: blob, url: null});
      } catch (error) {
        messages.push(strings.photoUnreadable);
      }
    }
    setFieldErrors('photos', messages);
    renderPhotos();
    draftSoon(0);
  }

  photoInput.addEventListener('change', () => {
    const files = Array.from(photoInput.files || []);
    photoInput.value = '';
    addPhotos(files);
  });

  // ---- the form: errors ----------------------------------------------------------------------------

  function setFieldErrors(field, messages) {
    const box = document.querySelector(`.field-errors[data-for="${field}"]`);
    if (box) {
      box.replaceChildren(...messages.map((message) => el('span', null, message)));
    }
  }

  function clearErrors() {
    document.querySelectorAll('.field-errors').forEach((box) => box.replaceChildren());
  }

  // DRF error details: {field: ["message", …] | {nested…}} → [[field, "message"], …]
  function flattenErrors(errors, prefix) {
    const out = [];
    if (errors === null || errors === undefined) {
      return out;
    }
    if (typeof errors === 'string') {
      out.push([prefix || 'non_field_errors', errors]);
    } else if (Array.isArray(errors)) {
      errors.forEach((item) => out.push(...flattenErrors(item, prefix)));
    } else if (typeof errors === 'object') {
      for (const [key, value] of Object.entries(errors)) {
        out.push(...flattenErrors(value, prefix || key));
      }
    }
    return out;
  }

  const FIELD_OF = {lon: 'location', lat: 'location', location: 'location', crs: 'location', category: 'category',
    note: 'note', photos: 'photos'};
  function fieldLabel(field) {
    const node = {location: document.querySelector('fieldset legend'), category: document.querySelector('label[for=category]'),
      note: document.querySelector('label[for=note]'), photos: document.querySelector('.field .label')}[FIELD_OF[field]];
    return node ? node.firstChild.textContent.trim() : '';
  }

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

  function draftSoon(delay) {
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

  async function draftRestore() {
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

  noteInput.addEventListener('input', () => draftSoon());
  categorySelect.addEventListener('change', () => {
    setFieldErrors('category', []);
    draftSoon(0);
  });
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

  function editReport(record) {
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

  // ---- sending -------------------------------------------------------------------------------------

  let inFlight = false;
  let again = false;
  let retryTimer = null;
  let retryDelay = RETRY_FIRST_MS;
  let nextTryAt = null;
  let authNeeded = false;
  let lastProblem = null; // why the last try did not get an answer, when the server said why
  const sendingNow = new Set(); // client_uuids of the request in flight

  function setAuthNeeded(needed) {
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
  async function flush() {
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
        headers: {'X-CSRFToken': csrfToken(), Accept: 'application/json'},
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

  // ---- the queue on this phone ---------------------------------------------------------------------

  let renderSeq = 0;

  async function renderQueue() {
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
  function renderSummary() {
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

  // ---- my reports, from the server -----------------------------------------------------------------

  function renderMine(features) {
    const list = $('mine');
    list.replaceChildren();
    for (const feature of features) {
      const p = feature.properties || {};
      const item = el('li', 'item');
      item.dataset.id = feature.id;
      item.dataset.status = p.status;
      const head = el('div', 'item-head');
      head.append(el('strong', null, p.category_name || p.category || strings.noCategory));
      head.append(el('span', 'badge badge-status status-' + p.status, config.choices.incidentStatus[p.status] || p.status));
      item.append(head);
      item.append(el('div', 'meta', [fmt(strings.incidentNo, feature.id), formatTime(p.created)].join(' · ')));
      if (p.note) {
        item.append(el('div', 'note', p.note));
      }
      list.append(item);
    }
  }

  let mineLoading = false;

  async function loadMine() {
    if (mineLoading) {
      return;
    }
    mineLoading = true;
    const status = $('mine-status');
    status.textContent = strings.loading;
    try {
      const url = new URL(config.api.incidents, window.location.href);
      url.searchParams.set('reporter', 'me');
      url.searchParams.set('page_size', '50');
      const page = await getJson(url.pathname + url.search);
      const features = (page.features || []).map((f) => ({id: f.id, properties: {
        status: f.properties.status, category: f.properties.category, category_name: f.properties.category_name,
        note: f.properties.note, created: f.properties.created}}));
      writeJson(MINE_KEY, {at: new Date().toISOString(), features: features});
      renderMine(features);
      status.textContent = features.length ? '' : strings.mineEmpty;
      setAuthNeeded(false); // the session is back (logged in again in another tab)
    } catch (error) {
      if (error instanceof HttpError && (error.status === 401 || error.status === 403)) {
        setAuthNeeded(true);
      }
      const cached = readJson(MINE_KEY);
      if (cached) {
        renderMine(cached.features);
        status.textContent = fmt(strings.mineOffline, formatTime(cached.at));
      } else {
        status.textContent = strings.mineFailed;
      }
    } finally {
      mineLoading = false;
    }
  }

  // ---- events --------------------------------------------------------------------------------------

  function sendNowAndRefresh() {
    retryDelay = RETRY_FIRST_MS;
    flush();
  }

  window.addEventListener('online', () => {
    renderNetwork();
    sendNowAndRefresh();
    loadMine();
    if (!Object.keys(categoryNames).length) {
      loadCategories();
    }
  });
  window.addEventListener('offline', () => {
    renderNetwork();
    renderQueue();
  });
  // Back from the login tab (or from another app): try at once rather than at the next timer.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') {
      sendNowAndRefresh();
    }
  });
  window.addEventListener('focus', () => {
    if (authNeeded) {
      sendNowAndRefresh();
    }
  });
  $('send-now').addEventListener('click', sendNowAndRefresh);
  $('mine-refresh').addEventListener('click', loadMine);
  if (channel) {
    channel.addEventListener('message', (event) => {
      if (event.data && event.data.owner === owner) {
        renderQueue();
        loadMine();
      }
    });
  }
  // The countdown in the summary line.
  setInterval(() => {
    if (nextTryAt) {
      renderSummary();
    }
  }, 5000);

  // For the console and for tests: send what waits now.
  window.gridlinePhone = {flush: flush};

  // ---- start ---------------------------------------------------------------------------------------

  async function start() {
    renderNetwork();
    renderPhotos();
    renderLocation();
    await loadCategories();
    try {
      await draftRestore();
    } catch (error) {
      setFieldErrors('non_field_errors', [error.message || String(error)]);
    }
    startLocating();
    await renderQueue();
    flush();
    loadMine();
    if (config.serviceWorker && 'serviceWorker' in navigator) {
      navigator.serviceWorker.register(config.serviceWorker).catch(() => {});
    }
  }

  start();
})();
