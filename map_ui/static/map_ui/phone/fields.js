/* The report's category, note and photos, and the errors shown beside each field. */
/* global L */
import {el, fmt, getJson} from '../common.js';
import {$, CATEGORIES_KEY, config, readJson, SHRINK_TO_PX, strings, writeJson} from './context.js';
import {draftSoon} from './draft.js';
import {form} from './location.js';

// ---- the form: category, note, photos ------------------------------------------------------------

export const categorySelect = $('category');
export const noteInput = $('note');
const photoInput = $('photo-input');
export let categoryNames = {};

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

export function setCategory(code) {
  if (code && !categorySelect.querySelector(`option[value="${CSS.escape(code)}"]`)) {
    const option = el('option', null, categoryNames[code] || code); // from a draft, before the list loaded
    option.value = code;
    categorySelect.append(option);
  }
  categorySelect.value = code || '';
}

export async function loadCategories() {
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

export function renderPhotos() {
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
// What is typed or chosen is kept as the draft.
noteInput.addEventListener('input', () => draftSoon());
categorySelect.addEventListener('change', () => {
  setFieldErrors('category', []);
  draftSoon(0);
});

// ---- the form: errors ----------------------------------------------------------------------------

export function setFieldErrors(field, messages) {
  const box = document.querySelector(`.field-errors[data-for="${field}"]`);
  if (box) {
    box.replaceChildren(...messages.map((message) => el('span', null, message)));
  }
}

export function clearErrors() {
  document.querySelectorAll('.field-errors').forEach((box) => box.replaceChildren());
}

// DRF error details: {field: ["message", …] | {nested…}} → [[field, "message"], …]
export function flattenErrors(errors, prefix) {
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

export const FIELD_OF = {lon: 'location', lat: 'location', location: 'location', crs: 'location', category: 'category',
  note: 'note', photos: 'photos'};
export function fieldLabel(field) {
  const node = {location: document.querySelector('fieldset legend'), category: document.querySelector('label[for=category]'),
    note: document.querySelector('label[for=note]'), photos: document.querySelector('.field .label')}[FIELD_OF[field]];
  return node ? node.firstChild.textContent.trim() : '';
}
