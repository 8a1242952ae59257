/* Gridline phone report page: file reports offline, send them when the network allows.
 *
 * A report is written to IndexedDB (with its photos as Blobs and a fresh client_uuid) before anything is
 * sent, and stays there until the batch API answers "created" or "existing" for its client_uuid. Sends go
 * one at a time (a flag in this tab, a Web Lock across tabs), and a resend of the same client_uuid never
 * makes a second incident on the server, so a lost answer costs one more request, never a duplicate.
 *
 * Its parts are the ES modules in phone/; this one wires the page's events and starts it.
 */
import {$, config, owner} from './phone/context.js';
import {draftRestore} from './phone/draft.js';
import {categoryNames, loadCategories, renderPhotos, setFieldErrors} from './phone/fields.js';
import {renderLocation, renderNetwork, startLocating} from './phone/location.js';
import {loadMine} from './phone/mine.js';
import {renderQueue, renderSummary} from './phone/queue.js';
import {authNeeded, flush, nextTryAt, sendNowAndRefresh} from './phone/sending.js';
import {channel} from './phone/store.js';

// ---- events --------------------------------------------------------------------------------------

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
