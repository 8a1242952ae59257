/* /m/activities/<id>/: an activity's record for those who may read it: the minutes (written by its runners),
 * photos and videos (uploaded one request per file, the server checking type and size), the face check-in
 * meeting's frames, and the attendance list. <body data-ready="true"> once all three are drawn.
 */
import {HttpError, csrfToken, el, fmt, getJson, pageConfig, pageStrings, timeFormatter} from '../common.js';

const config = pageConfig('activity-config');
const strings = pageStrings('#activity-i18n');
const formatTime = timeFormatter(config.timeZone);

function reason(error) {
  const body = error && error.body;
  if (body && typeof body === 'object') {
    const first = Object.values(body).find((v) => Array.isArray(v) || typeof v === 'string');
    return Array.isArray(first) ? first.join(' ') : String(first || '');
  }
  return error ? error.message : '';
}

async function send(url, method, body) {
  const headers = {Accept: 'application/json', 'X-CSRFToken': csrfToken(config.csrfCookie, '')};
  if (!(body instanceof FormData)) {
    headers['Content-Type'] = 'application/json';
  }
  const response = await fetch(url, {
    method: method, credentials: 'same-origin', headers: headers,
    body: body instanceof FormData ? body : JSON.stringify(body),
  });
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    throw new HttpError(response.status, answer);
  }
  return answer;
}

function message(id, kind, text) {
  const node = document.getElementById(id);
  node.dataset.kind = kind;
  node.textContent = text;
}

function mediaItem(media) {
  if (media.kind === 'video') {
    return el('li', {dataset: {id: String(media.id), kind: 'video'}},
      el('video', {src: media.url, controls: true, preload: 'metadata'}));
  }
  return el('li', {dataset: {id: String(media.id), kind: 'photo'}},
    el('a', {href: media.url}, el('img', {src: media.thumbnail_url || media.url, alt: strings.photo})));
}

function frameItem(frame) {
  return el('li', {dataset: {frame: String(frame.id), kind: 'frame'}},
    el('a', {href: frame.url}, el('img', {src: frame.url, alt: strings.frame + ' ' + formatTime(frame.at)})));
}

async function loadRecord() {
  const record = await getJson(config.api.media);
  document.getElementById('minutes').value = record.minutes || '';
  document.getElementById('media-list').replaceChildren(...record.results.map(mediaItem),
    ...record.frames.map(frameItem));
}

async function loadAttendance() {
  let attendance;
  try {
    attendance = await getJson(config.api.attendance);
  } catch (error) {
    return;
  }
  const values = {count: attendance.count, expected: attendance.expected, cross: attendance.cross_branch};
  document.getElementById('attendance-summary').textContent =
    fmt(attendance.expected === null ? strings.summaryOpen : strings.summary, values);
  document.getElementById('attendance-rows').replaceChildren(...attendance.results.map((row) => el('tr',
    {dataset: {person: String(row.person), method: row.method, crossBranch: String(row.cross_branch)}},
    el('td', {}, row.name),
    el('td', {}, strings[row.method] || row.method),
    el('td', {}, formatTime(row.at)),
    el('td', {}, row.home_branch ? row.home_branch.name : '', row.cross_branch ? ' ' + strings.otherBranch : ''))));
}

const minutesForm = document.getElementById('minutes-form');
minutesForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    await send(config.api.record, 'PATCH', {minutes: document.getElementById('minutes').value});
    message('minutes-message', 'ok', strings.saved);
  } catch (error) {
    message('minutes-message', 'error', fmt(strings.failed, reason(error)));
  }
});

const mediaForm = document.getElementById('media-form');
if (mediaForm) {
  mediaForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const input = document.getElementById('media-file');
    for (const file of Array.from(input.files)) {
      message('media-message', 'busy', fmt(strings.uploading, file.name));
      const body = new FormData();
      body.append('file', file);
      try {
        const response = await fetch(config.api.media, {
          method: 'POST', credentials: 'same-origin', body: body,
          headers: {Accept: 'application/json', 'X-CSRFToken': csrfToken(config.csrfCookie, '')},
        });
        const answer = await response.json().catch(() => null);
        if (!response.ok) {
          throw new HttpError(response.status, answer);
        }
        message('media-message', 'ok', fmt(response.status === 201 ? strings.uploaded : strings.already, file.name));
      } catch (error) {
        message('media-message', 'error', fmt(strings.failed, reason(error)));
      }
    }
    input.value = '';
    await loadRecord();
  });
}

Promise.allSettled([loadRecord(), loadAttendance()]).then(() => {
  document.body.dataset.ready = 'true';
});
