/* The organizer's screen: the activity's rotating code and its QR code, fetched again as each 30 s step ends. */
import {fmt, pageConfig, pageStrings} from '../common.js';

const config = pageConfig('code-config');
const strings = pageStrings('#code-i18n');
const qr = document.getElementById('code-qr');
const digits = document.getElementById('code-digits');
const countdown = document.getElementById('code-countdown');
const problem = document.getElementById('code-error');

let renewAt = 0;
let timer = null;

function show(body) {
  // The SVG comes from our API; as an image it is drawn, never run or parsed into the page.
  qr.src = 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(body.qr_svg);
  qr.hidden = false;
  digits.textContent = body.code;
  digits.dataset.step = String(body.step);
  document.body.dataset.code = body.code;
  document.body.dataset.step = String(body.step);
  problem.hidden = true;
  renewAt = Date.now() + body.valid_for_s * 1000;
  tick();
}

async function load() {
  clearTimeout(timer);
  let wait = 5000;
  try {
    const response = await fetch(config.codeUrl, {credentials: 'same-origin', headers: {Accept: 'application/json'},
      cache: 'no-store'});
    if (response.status === 401 || response.status === 403) {
      problem.textContent = strings.signedOut;
      problem.hidden = false;
      return;
    }
    if (!response.ok) {
      throw new Error(String(response.status));
    }
    show(await response.json());
    // a little after the step changes, so that the server's clock has moved on as well
    wait = Math.max(500, renewAt - Date.now() + 300);
  } catch (error) {
    problem.textContent = strings.loadFailed;
    problem.hidden = false;
  }
  timer = setTimeout(load, wait);
}

function tick() {
  if (renewAt) {
    countdown.textContent = fmt(strings.renewsIn, Math.max(0, Math.ceil((renewAt - Date.now()) / 1000)));
  }
}

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && Date.now() >= renewAt) {
    load();
  }
});
setInterval(tick, 1000);
load();
