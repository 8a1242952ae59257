/* The station mall (/m/mall/): the items at the stations nearest the phone, the member's balance, ordering, and
 * the member's orders with their pickup QR codes. Everything comes from the engagement API; names and notes reach
 * the page only as text (el, textContent). */
import {HttpError, choiceLabels, csrfToken, el, fmt, getJson, pageConfig, pageStrings, timeFormatter, withParams}
  from '../common.js';

const config = pageConfig('mall-config');
const strings = pageStrings('#mall-strings');
const label = choiceLabels(config.choices);
const when = timeFormatter(config.timeZone);
const itemsBox = document.getElementById('items');
const ordersList = document.getElementById('orders');
const message = document.getElementById('message');
// One client id per item until the server answers: a retry after a lost answer is the same order, not a second.
const pending = new Map();

function newUuid() {
  if (window.crypto && crypto.randomUUID) {
    return crypto.randomUUID();
  }
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function say(text, isError) {
  message.textContent = text;
  message.classList.toggle('error', Boolean(isError));
  message.hidden = !text;
}

// The server's words for a refusal: its detail, else each field's messages.
function refusal(body, status) {
  if (body && typeof body === 'object') {
    if (body.detail) {
      return String(body.detail);
    }
    const parts = Object.values(body).flat().filter((v) => typeof v === 'string');
    if (parts.length) {
      return parts.join(' ');
    }
  }
  return fmt(strings.failed, status);
}

async function post(url, body) {
  const response = await fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/json',
      'X-CSRFToken': csrfToken(config.csrfCookie, ''),
    },
    body: JSON.stringify(body || {}),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    throw new HttpError(response.status, data);
  }
  return data;
}

async function loadBalance() {
  const box = document.getElementById('balance');
  try {
    const points = await getJson(withParams(config.api.points, {page_size: 1}));
    box.textContent = fmt(strings.balance, points.balance);
    box.dataset.balance = points.balance;
  } catch (error) {
    box.textContent = error.status === 404 ? strings.noMember : '';
  }
}

function itemRow(item) {
  const button = el('button', {
    type: 'button', class: 'secondary small order', dataset: {item: item.id}, disabled: item.stock < 1,
    onclick: () => order(item, button),
  }, item.stock < 1 ? strings.soldOut : strings.order);
  return el('li', {dataset: {item: item.id}},
    item.picture ? el('img', {class: 'picture', src: item.picture, alt: ''}) : null,
    el('div', 'what',
      el('div', 'name', item.name),
      item.description ? el('div', 'muted small-text', item.description) : null,
      el('div', null, el('span', 'price', fmt(strings.price, item.price)), ' · ',
        el('span', 'muted', item.stock < 1 ? strings.soldOut : fmt(strings.stock, item.stock)))),
    button);
}

function renderItems(items) {
  itemsBox.replaceChildren();
  if (!items.length) {
    itemsBox.append(el('p', 'muted', strings.noItems));
    return;
  }
  let station = null;
  let list = null;
  for (const item of items) {
    if (!station || station.id !== item.station.id) {
      station = item.station;
      const distance = station.distance_m === null ? '' : ' · ' + fmt(strings.distance, Math.round(station.distance_m));
      list = el('ul', 'goods');
      itemsBox.append(el('section', {class: 'station', dataset: {station: station.id}},
        el('h3', 'station-head', station.name, el('span', 'muted small-text', distance)),
        station.address ? el('div', 'muted small-text', station.address) : null, list));
    }
    list.append(itemRow(item));
  }
}

let position = null;

async function loadItems() {
  const params = {stations: config.stations};
  if (position) {
    params.near = position.longitude.toFixed(6) + ',' + position.latitude.toFixed(6);
    params.crs = 'wgs84'; // the browser's Geolocation API answers in WGS 84
  }
  try {
    renderItems(await getJson(withParams(config.api.items, params)));
  } catch (error) {
    itemsBox.replaceChildren(el('p', 'field-errors', strings.loadFailed));
  }
}

function locate() {
  const status = document.getElementById('near-status');
  return new Promise((resolve) => {
    if (!navigator.geolocation) {
      status.textContent = strings.noPosition;
      resolve();
      return;
    }
    navigator.geolocation.getCurrentPosition((found) => {
      position = found.coords;
      status.textContent = strings.near;
      resolve();
    }, () => {
      status.textContent = strings.noPosition;
      resolve();
    }, {enableHighAccuracy: false, timeout: 8000, maximumAge: 60000});
  });
}

function orderRow(entry) {
  const waiting = entry.status === 'ordered';
  const times = [fmt(strings.orderedAt, when(entry.ordered_at))];
  if (entry.picked_up_at) {
    times.push(fmt(strings.pickedUpAt, when(entry.picked_up_at)));
  }
  const row = el('li', {class: 'order-card', dataset: {order: entry.id, status: entry.status}},
    el('div', null, el('span', 'name', entry.item.name), ' · ', entry.item.station.name),
    el('div', 'muted small-text', fmt(strings.price, entry.points), ' · ', label('orderStatus', entry.status),
      ' · ', times.join(' · ')));
  if (waiting) {
    row.append(el('div', 'pickup',
      entry.pickup_qr ? el('img', {class: 'pickup-qr', src: entry.pickup_qr, alt: strings.pickupCode}) : null,
      el('div', 'muted small-text', strings.pickupCode),
      el('div', 'pickup-code', entry.pickup_code)));
    row.append(el('button', {type: 'button', class: 'secondary small cancel', onclick: () => cancel(entry)},
      strings.cancel));
  }
  return row;
}

async function loadOrders() {
  try {
    const page = await getJson(config.api.mine);
    ordersList.replaceChildren(...page.results.map(orderRow));
    if (!page.results.length) {
      ordersList.append(el('li', 'muted', strings.noOrders));
    }
  } catch (error) {
    ordersList.replaceChildren(el('li', 'muted', error.status === 403 ? strings.noMember : strings.loadFailed));
  }
}

async function refresh() {
  await Promise.all([loadBalance(), loadItems(), loadOrders()]);
}

async function order(item, button) {
  if (!window.confirm(fmt(strings.confirmOrder, item.name, item.price))) {
    return;
  }
  if (!pending.has(item.id)) {
    pending.set(item.id, newUuid());
  }
  button.disabled = true;
  button.textContent = strings.ordering;
  try {
    const made = await post(config.api.orders, {item: item.id, client_uuid: pending.get(item.id)});
    pending.delete(item.id);
    say(fmt(strings.ordered, made.item.name), false);
    await refresh();
  } catch (error) {
    if (error instanceof HttpError) {
      pending.delete(item.id); // answered: a new try is a new order
      say(refusal(error.body, error.status), true);
      await refresh();
    } else {
      say(strings.offline, true);
      button.disabled = false;
      button.textContent = strings.order;
    }
  }
}

async function cancel(entry) {
  if (!window.confirm(strings.confirmCancel)) {
    return;
  }
  try {
    await post(config.api.cancel.replace('/0/', `/${entry.id}/`));
    say(strings.cancelled, false);
  } catch (error) {
    say(error instanceof HttpError ? refusal(error.body, error.status) : strings.offline, true);
  }
  await refresh();
}

loadBalance();
loadOrders();
locate().then(loadItems);
