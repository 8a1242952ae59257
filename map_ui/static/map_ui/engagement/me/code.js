// The "code" section of /m/me/: render(element, config) fills the section's element with the personal QR code
// (一人一号), the member code and its version, and a button that re-issues it (every earlier code stops working).
import {HttpError, csrfToken, el, fmt} from '../../common.js';

async function send(url, config) {
  const response = await fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: {Accept: 'application/json', 'X-CSRFToken': csrfToken(config.csrfCookie, '')},
  });
  if (!response.ok) {
    throw new HttpError(response.status, await response.json().catch(() => null));
  }
  return response.json();
}

async function load(url) {
  const response = await fetch(url, {credentials: 'same-origin', headers: {Accept: 'application/json'}});
  if (!response.ok) {
    throw new HttpError(response.status, await response.json().catch(() => null));
  }
  return response.json();
}

// The SVG comes from our server (segno); drawn as an image, it runs nothing and parses no markup into the page.
function qrImage(svg, alt) {
  return el('img', {class: 'qr', alt: alt, src: 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(svg)});
}

function draw(element, code, config, message) {
  const s = config.strings;
  const lines = [
    qrImage(code.svg, s.codeAlt),
    el('p', {class: 'code-text', id: 'member-code', dataset: {payload: code.payload, version: code.version}},
      code.member_code),
    el('p', 'code-meta muted', fmt(s.version, code.version),
      code.branch ? [' · ', s.branch, ' ', code.branch.name] : '',
      code.is_gig_worker ? [' · ', s.gigWorker] : ''),
    el('p', 'muted', s.showToScanner),
  ];
  const status = el('p', {class: 'status', role: 'status', id: 'code-status'}, message || '');
  const button = el('button', {type: 'button', id: 'reissue-code', onclick: async () => {
    if (!window.confirm(s.reissueConfirm)) {
      return;
    }
    button.disabled = true;
    try {
      draw(element, await send(config.api['me-code-reissue'], config), config, s.reissued);
    } catch (error) {
      status.textContent = s.failed;
      button.disabled = false;
    }
  }}, s.reissue);
  element.replaceChildren(...lines, el('div', 'code-actions', button), status);
}

export async function render(element, config) {
  element.replaceChildren(el('p', 'muted', config.strings.loading));
  let code;
  try {
    code = await load(config.api['me-code']);
  } catch (error) {
    if (error instanceof HttpError && error.status === 403) {
      element.replaceChildren(el('p', 'muted', (error.body && error.body.detail) || config.strings.noCode));
      return;
    }
    throw error;
  }
  draw(element, code, config);
}
