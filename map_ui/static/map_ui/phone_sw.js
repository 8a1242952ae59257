/* Service worker of the phone report page: lets the page open without a network.
 *
 * Served by map_ui.views.phone.PhoneServiceWorkerView, which puts GL_VERSION and GL_ASSETS (the page's
 * static files) before this text. The page and those files are fetched from the network first and
 * cached; the cache answers only when the network does not. Reports never pass through here: the page
 * keeps them in IndexedDB and sends them itself.
 */
/* global GL_VERSION, GL_ASSETS */
'use strict';

const CACHE_PREFIX = 'gridline-phone-';
const CACHE = CACHE_PREFIX + GL_VERSION;
const PAGE = new URL(self.registration.scope).pathname; // /m/report/

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(GL_ASSETS);
    try {
      // The page itself too, when the session lets it through (not a redirect to the login page).
      const page = await fetch(PAGE, {credentials: 'same-origin'});
      if (page.ok && !page.redirected) {
        await cache.put(PAGE, page);
      }
    } catch (error) {
      // offline while installing: the next visit online caches it
    }
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(CACHE_PREFIX) && name !== CACHE) {
        await caches.delete(name);
      }
    }
    await self.clients.claim();
  })());
});

async function networkFirst(request, key) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    // Only a plain answer is kept: not a redirect to the login page, not an error.
    if (response.ok && response.type === 'basic' && !response.redirected) {
      await cache.put(key, response.clone());
    }
    return response;
  } catch (error) {
    const cached = await cache.match(key, {ignoreSearch: true});
    if (cached) {
      return cached;
    }
    throw error;
  }
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') {
    return;
  }
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) {
    return;
  }
  if (request.mode === 'navigate' && url.pathname === PAGE) {
    event.respondWith(networkFirst(request, PAGE));
  } else if (GL_ASSETS.includes(url.pathname)) {
    event.respondWith(networkFirst(request, url.pathname));
  }
});
