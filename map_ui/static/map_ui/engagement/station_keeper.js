/* The station keeper's pickup check (/m/station/): read the member's pickup QR code with the camera where the
 * browser has a BarcodeDetector (or take the typed code), then confirm: the order is picked up, or the server says
 * why not (a code used before, another station's code). */
import {csrfToken, el, fmt, pageConfig, pageStrings} from '../common.js';

const config = pageConfig('keeper-config');
const strings = pageStrings('#keeper-strings');
const form = document.getElementById('pickup-form');
const input = document.getElementById('pickup-code');
const result = document.getElementById('result');
const scanButton = document.getElementById('scan');
const scanner = document.getElementById('scanner');
const video = document.getElementById('camera');
const stopButton = document.getElementById('scan-stop');
let stream = null;

function show(nodes, isError) {
  result.replaceChildren(...nodes);
  result.classList.toggle('error', Boolean(isError));
  result.hidden = false;
}

function refusal(body, status) {
  if (body && body.detail) {
    return String(body.detail);
  }
  if (body && typeof body === 'object') {
    const parts = Object.values(body).flat().filter((v) => typeof v === 'string');
    if (parts.length) {
      return parts.join(' ');
    }
  }
  return fmt(strings.failed, status);
}

async function confirmPickup(event) {
  event.preventDefault();
  const code = input.value.trim();
  if (!code) {
    show([strings.empty], true);
    return;
  }
  let response;
  try {
    response = await fetch(config.api.pickups, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', Accept: 'application/json',
        'X-CSRFToken': csrfToken(config.csrfCookie, '')},
      body: JSON.stringify({pickup_code: code}),
    });
  } catch (error) {
    show([strings.offline], true);
    return;
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    show([refusal(body, response.status)], true);
    return;
  }
  show([
    el('div', 'name', strings.handedOver),
    el('div', null, body.item.name, ' · ', body.item.station.name),
    el('div', null, fmt(strings.member, body.member)),
    el('div', 'muted', fmt(strings.points, body.points), ' · ', body.pickup_code),
  ], false);
  result.dataset.order = body.id;
  input.value = '';
}

function stopCamera() {
  if (stream) {
    stream.getTracks().forEach((track) => track.stop());
    stream = null;
  }
  scanner.hidden = true;
  stopButton.hidden = true;
}

async function scan() {
  try {
    stream = await navigator.mediaDevices.getUserMedia({video: {facingMode: 'environment'}, audio: false});
  } catch (error) {
    show([strings.noCamera], true);
    return;
  }
  const detector = new window.BarcodeDetector({formats: ['qr_code']});
  video.srcObject = stream;
  scanner.hidden = false;
  stopButton.hidden = false;
  await video.play();
  const tick = async () => {
    if (!stream) {
      return;
    }
    try {
      const codes = await detector.detect(video);
      if (codes.length) {
        input.value = codes[0].rawValue;
        stopCamera();
        show([strings.scanned], false);
        document.getElementById('confirm').focus(); // the keeper confirms: a scan alone hands nothing over
        return;
      }
    } catch (error) {
      // a frame that is not ready yet: try the next one
    }
    window.setTimeout(tick, 200);
  };
  tick();
}

if ('BarcodeDetector' in window && navigator.mediaDevices) {
  scanButton.hidden = false;
  scanButton.addEventListener('click', scan);
  stopButton.addEventListener('click', stopCamera);
}
form.addEventListener('submit', confirmPickup);
