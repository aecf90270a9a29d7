// The energy page's real-model panel (#real-model): a Hugging Face checkpoint (the reader's files,
// a folder URL or a hub repo id) and the report of `token-dynamics model` on it, computed in a
// worker (model-worker.js) by the on-demand module td-real-model. Part of the page's cold download,
// so it only fetches, stores and renders. Its contract (data-state, window.tokenDynamicsRealModel):
// docs/page-contract.md.
const $ = (id) => document.getElementById(id);
const panel = $('real-model');
// The panel is written with the page's figures but is not one of them: it goes below the lab,
// where the figure pinned at the top of a phone's screen (style.css, .pin) does not cover it.
$('controls-area').after(panel);
const CACHE = 'token-dynamics-models-v1';
// Whole next-token distributions, for the next-token page (crates/web/src/hooks/next_token.rs reads
// them): about 1 MB each for GPT-2's 50,257 tokens; the newest KEPT_VOCABULARIES stay.
const VOCABULARIES = 'token-dynamics-vocabularies-v1';
const KEPT_VOCABULARIES = 8;
const LARGE = 100e6; // bytes: a download beyond this waits for the reader's go-ahead
const INDEX = 'model.safetensors.index.json';
const REPO_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/;
const CANCELLED = 'cancelled';
const busy = () => state === 'loading' || state === 'computing';
const IDS = /^\s*\d+(\s*,\s*\d+)*\s*$/;

let state = 'idle';
let current = null; // the model in use: {files: [{name, blob}], summary, source}
let report = null;
let vocab = null; // the id of the report's whole distribution kept for the next-token explorer
let worker = null;
let workerFiles = null; // the files the worker holds loaded (null: nothing, or unknown)
let abort = null; // the running download's AbortController
let nextId = 0;
const pending = new Map();

window.tokenDynamicsRealModel = {
  get state() { return state; },
  get summary() { return current && current.summary; },
  get report() { return report; },
  get vocab() { return vocab; },
  get source() { return current && current.source; },
  get link() { return current && current.link; },
};

function setState(s) {
  state = panel.dataset.state = s;
  panel.setAttribute('aria-busy', busy());
  $('rm-cancel').hidden = !busy();
  for (const id of ['rm-files', 'rm-folder', 'rm-fetch', 'rm-delete']) $(id).disabled = busy();
  $('rm-analyse').disabled = busy() || !current;
  if (!busy()) $('rm-progress').hidden = $('rm-confirm').hidden = true;
}
const say = (text) => { $('rm-status').textContent = text; $('rm-error').textContent = ''; };

function fail(error) {
  const message = error?.message || String(error);
  if (message === CANCELLED || error?.name === 'AbortError') {
    say('Cancelled.' + (current ? ` ${current.summary.architecture} stays in use${workerFiles ? '' : ': its files are kept here and read again at the next Analyse'}.` : ''));
    setState(current ? 'ready' : 'idle');
  } else {
    $('rm-status').textContent = '';
    $('rm-error').textContent = message;
    setState('error');
  }
}

// ---------- the worker ----------

function call(msg) {
  if (!worker) {
    worker = new Worker('model-worker.js', { type: 'module' });
    worker.onmessage = ({ data }) => {
      const p = pending.get(data.id);
      pending.delete(data.id);
      if (data.type === 'error') p.reject(new Error(data.message));
      else p.resolve(data);
    };
    worker.onerror = (e) => {
      e.preventDefault();
      stopWorker(`The model worker stopped: ${e.message || 'it could not start'}.`);
    };
  }
  const id = ++nextId;
  worker.postMessage({ ...msg, id });
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}

function stopWorker(why) {
  worker?.terminate();
  worker = workerFiles = null;
  for (const p of pending.values()) p.reject(new Error(why));
  pending.clear();
}

async function loadIntoWorker(files) {
  workerFiles = null; // the module lets the old checkpoint go before reading the new one
  const { summary, hash } = await call({ type: 'load', files });
  workerFiles = files;
  return { summary, hash };
}

// ---------- loading ----------

// ---------- the link (checkpoint=, validated by the lab's parameter table) ----------

const linked = () => window.tokenDynamics?.state().checkpoint || '';
let named = ''; // the checkpoint the link named when the page last looked
let asked = ''; // a file:NAME@HASH a link asked for, until files with that hash are chosen

/** Says what the link's checkpoint needs: nothing is fetched until the reader asks. */
function followLink() {
  const c = linked();
  if (c === named) return;
  named = c;
  if (!c || busy() || c === current?.link) return;
  const file = /^file:(.+)@([0-9a-f]{64})$/i.exec(c);
  if (file) {
    asked = c;
    say(`This link was made with a checkpoint loaded from disk: "${file[1]}" (files' SHA-256 ${file[2].slice(0, 12)}…). Choose those files above to continue; the page checks they are the same.`);
  } else {
    $('rm-url').value = c;
    say(`This link names the real model ${c}. Press Download to load it: nothing is downloaded before.`);
  }
}
const watch = setInterval(() => {
  if (!window.tokenDynamics) return;
  clearInterval(watch);
  followLink();
  window.addEventListener('hashchange', followLink);
  document.addEventListener('change', (e) => e.target.id === 'ctl-checkpoint' && setTimeout(followLink));
}, 100);

/** Puts the model in use into the link, and says whether it is the one the link named. */
function toLink(link) {
  named = link;
  window.tokenDynamics?.set({ checkpoint: link });
  // Only a link opened here is compared with: the reader's own earlier loads wrote the others.
  const file = /^file:(.+)@([0-9a-f]{64})$/i.exec(asked);
  if (!file || !link.startsWith('file:')) {
    asked = '';
    return '';
  }
  if (link.endsWith(`@${file[2]}`)) {
    asked = '';
    return ' These are the files the link was made with (same SHA-256).';
  }
  return ` These files differ from the ones the link was made with (SHA-256 ${link.slice(-64, -52)}…, the link's ${file[2].slice(0, 12)}…).`;
}

/** Reads a checkpoint (files: [{name, blob}]) in the worker; on success it is the model in use.
 *  `link`: the checkpoint= value of a download (repo id or URL); files from disk get
 *  file:NAME@HASH. */
async function use(files, source, link, name) {
  setState('loading');
  say(`Reading the checkpoint (${size(files.reduce((n, f) => n + f.blob.size, 0))}) in a worker…`);
  try {
    const { summary, hash } = await loadIntoWorker(files);
    link ||= hash ? `file:${name || summary.architecture}@${hash}` : '';
    source += link ? toLink(link) : '';
    // The text box holds text for a model with a tokenizer, token ids for one without.
    const text = $('rm-text');
    if (summary.has_tokenizer ? current?.summary.has_tokenizer === false : !IDS.test(text.value)) text.value = '';
    current = { files, summary, source, link };
    report = null;
    $('rm-results').replaceChildren();
    $('rm-summary').textContent = `${summary.architecture} (${summary.family} family): ${summary.description}; ${summary.n_params.toLocaleString('en-US')} parameters stored as ${summary.stored_dtypes.join(', ')}, kept in memory as ${summary.weights_dtype} (${size(summary.weight_bytes)}, and as much for its random twin). ${source}`;
    steerLayers(summary);
    $('rm-text-label').textContent = summary.has_tokenizer ? 'Text' : `Token ids, comma-separated (0 to ${summary.vocab - 1})`;
    if (summary.has_tokenizer) return analyse();
    say(`Loaded. This checkpoint has no tokenizer.json, and the panel needs tokenizer.json for text: type token ids and press Analyse.`);
    setState('ready');
  } catch (e) {
    fail(e);
  }
}

/** Keeps the files a checkpoint may need (the names the module reads), by their bare names. */
function pick(list) {
  const byName = new Map();
  for (const f of list) {
    const depth = (f.webkitRelativePath || f.name).split('/').length;
    if (/^(config\.json|tokenizer\.json|.*\.safetensors|model\.safetensors\.index\.json)$/.test(f.name) && depth <= 2) byName.set(f.name, { name: f.name, blob: f });
  }
  return [...byName.values()];
}

function useLocal(list) {
  const files = pick(list);
  // The link names files from disk by their folder, else by what they are.
  const folder = list.map((f) => f.webkitRelativePath?.split('/')[0]).find(Boolean);
  if (!files.length) fail(new Error('None of these is a checkpoint file: choose config.json, tokenizer.json and the .safetensors file(s), or their folder.'));
  else use(files, `From your files (${files.map((f) => f.name).join(', ')}).`, '', folder?.slice(0, 100).replace(/@/g, '_'));
}

for (const id of ['rm-files', 'rm-folder']) {
  $(id).addEventListener('change', (e) => {
    useLocal([...e.target.files]);
    e.target.value = ''; // so that choosing the same files again is a change too
  });
}

panel.addEventListener('dragover', (e) => { e.preventDefault(); panel.classList.add('dragging'); });
panel.addEventListener('dragleave', () => panel.classList.remove('dragging'));
panel.addEventListener('drop', async (e) => {
  e.preventDefault();
  panel.classList.remove('dragging');
  if (busy()) return;
  // A dropped folder arrives as a directory entry: its files are read one level deep. The entries
  // must be taken now: the drop's data is gone after the first await.
  const items = [...e.dataTransfer.items].map((i) => i.webkitGetAsEntry?.() || i.getAsFile());
  const files = [];
  const read = (entry) => new Promise((ok, no) => entry.file(ok, no));
  for (const item of items) {
    if (item instanceof File) files.push(item);
    else if (item?.isFile) files.push(await read(item));
    else if (item?.isDirectory) {
      const reader = item.createReader();
      for (let batch; (batch = await new Promise((ok, no) => reader.readEntries(ok, no))).length; ) {
        for (const entry of batch) if (entry.isFile) files.push(await read(entry));
      }
    }
  }
  useLocal(files);
});

$('rm-url-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('rm-url').value.trim();
  let base;
  if (REPO_ID.test(text)) base = `https://huggingface.co/${text}/resolve/main/`;
  else {
    try {
      const url = new URL(text);
      if (url.protocol === 'http:' || url.protocol === 'https:') base = url.href.replace(/[^/]*\.(json|safetensors)$/, '').replace(/\/?$/, '/');
    } catch {
      // neither a repo id nor a URL: said below
    }
  }
  if (!base) return fail(new Error(`"${text}" is neither a Hugging Face repo id (owner/name, e.g. openai-community/gpt2) nor an http(s) URL of a folder.`));
  download(base, text);
});

/** Fetches a checkpoint folder (or takes it from the browser's storage) and uses it. */
async function download(base, link) {
  abort = new AbortController();
  const signal = abort.signal;
  setState('loading');
  say(`Looking at ${base}…`);
  // No Cache Storage in an insecure context (no `caches`) or an opaque origin (open fails).
  const cache = await window.caches?.open(CACHE).catch(() => null);
  const files = [];
  let notStored = cache ? '' : 'this browser offers no storage here';
  let hits = 0;
  let done = 0;
  let total = 0; // what the progress bar goes to: the Content-Lengths seen, or the shards' declared size
  let confirmed = false;
  let t0 = performance.now(); // moved on by the time spent waiting for the reader's go-ahead
  let shown = 0;
  const progress = (force) => {
    const now = performance.now();
    if (!force && now - shown < 100) return;
    shown = now;
    const bar = $('rm-progress');
    bar.hidden = false;
    const rate = (done / Math.max(1, now - t0)) * 1000;
    if (total) [bar.max, bar.value] = [total, Math.min(done, total)];
    else bar.removeAttribute('value');
    const left = total && rate ? `, ${Math.max(0, Math.ceil((total - done) / rate))} s left` : '';
    say(`Downloading: ${size(done)}${total ? ` of ${size(total)}` : ''} (${size(rate)}/s${left})`);
  };
  const store = async (key, response) => {
    try {
      await cache?.put(key, response);
    } catch (e) {
      notStored = e.name === 'QuotaExceededError' ? "the browser's storage is full" : `the browser refused (${e.message.replace(/\.+$/, '')})`;
    }
  };
  // One file: from storage, else downloaded (null when optional and absent).
  const get = async (name, optional) => {
    const url = base + name;
    const hit = await cache?.match(url);
    if (hit) {
      hits++;
      files.push({ name, blob: await hit.blob() });
      return files.at(-1).blob;
    }
    let response;
    try {
      response = await fetch(url, { signal });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new Error(`Could not fetch ${url}: the host is unreachable, or it does not let other sites read its files (CORS). Hugging Face does; another server must send Access-Control-Allow-Origin. You can also download the files and choose them above.`);
    }
    if (response.status === 404 && optional) return null;
    if (response.status === 401 || response.status === 403) throw new Error(`${url}: HTTP ${response.status}. A gated or private repository needs a login this page cannot do: download the files and choose them above.`);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}${response.status === 404 ? ' (not found): check the URL or repo id; the folder needs config.json and model.safetensors or its index' : ''}.`);
    const length = Number(response.headers.get('Content-Length')) || 0;
    total = Math.max(total, done + length);
    progress(true);
    if (total > LARGE && !confirmed) {
      $('rm-confirm-text').textContent = `This checkpoint is ${size(total)}${length ? '' : ' or more'}. Download it?`;
      $('rm-confirm').hidden = false;
      say('Waiting for your go-ahead.');
      const asked = performance.now();
      await new Promise((ok, no) => {
        $('rm-confirm-yes').onclick = ok;
        signal.addEventListener('abort', () => no(signal.reason), { once: true });
      });
      t0 += performance.now() - asked;
      $('rm-confirm').hidden = true;
      confirmed = true;
    }
    const chunks = [];
    const reader = response.body.getReader();
    try {
      for (let part; !(part = await reader.read()).done; ) {
        chunks.push(part.value);
        done += part.value.length;
        progress();
      }
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new Error(`The download of ${url} broke off (${e.message}).`);
    }
    progress(true);
    const blob = new Blob(chunks);
    await store(url, new Response(blob, { headers: { 'Content-Length': blob.size } }));
    files.push({ name, blob });
    return blob;
  };
  let failed = null;
  try {
    // The folder's list of files, kept beside them, spares a second visit the probing (and 404s).
    const known = await cache?.match(base);
    if (known) for (const name of (await known.json()).files) await get(name);
    else {
      await get('config.json');
      await get('tokenizer.json', true);
      if (!(await get('model.safetensors', true))) {
        const index = await get(INDEX, true);
        if (!index) throw new Error(`${base} has neither model.safetensors nor ${INDEX}.`);
        let map;
        try {
          map = JSON.parse(await index.text());
        } catch {
          throw new Error(`${base}${INDEX} is not JSON.`);
        }
        total = Math.max(total, done + (map.metadata?.total_size || 0));
        for (const shard of new Set(Object.values(map.weight_map || {}))) await get(shard);
      }
      if (!notStored) await store(base, new Response(JSON.stringify({ files: files.map((f) => f.name) })));
    }
  } catch (e) {
    failed = e;
  }
  abort = null;
  await showStored(); // what arrived in full is stored, even when the download stopped
  if (failed) return fail(failed);
  const from = hits === files.length ? "from this browser's storage (downloaded earlier)" : `downloaded from ${base}`;
  use(files, `Files ${from}${notStored ? `; not stored: ${notStored}` : ''}.`, link);
}

// ---------- the report ----------

/** The blocks a model can be steered at (the residual stream entering block 0..n_layer, through
 *  the blocks' vector-Jacobian products of either family). */
function steerLayers(summary) {
  const menu = $('rm-steer-layer');
  const keep = menu.value;
  const options = [el('option', 'the final norm only')];
  options[0].value = '';
  for (let layer = 0; layer <= summary.n_layer; layer++) {
    const o = el('option', layer === summary.n_layer ? `block ${layer} (after the last block, before the final norm)` : `block ${layer}`);
    o.value = String(layer);
    options.push(o);
  }
  menu.replaceChildren(...options);
  menu.value = options.some((o) => o.value === keep) ? keep : '';
}

function readRequest() {
  const num = (id) => {
    const x = $(id).valueAsNumber;
    if (!Number.isFinite(x)) throw new Error(`${$(id).parentElement.textContent.replace(/\s+/g, ' ').trim()}: give a number.`);
    return x;
  };
  // vocabulary: the whole next-token distribution is kept for the next-token explorer.
  const r = { twin_seed: num('rm-twin'), layers: $('rm-layers').checked, vocabulary: true };
  if (current.link) r.source = current.link; // named in the next-token link's `from`
  const text = $('rm-text');
  if (current.summary.has_tokenizer) {
    text.value ||= $('ctl-text')?.value || new URLSearchParams(location.hash.split('?')[1]).get('text') || 'The quick brown fox jumps over the lazy dog.';
    r.text = text.value;
  } else {
    if (!IDS.test(text.value)) throw new Error('Token ids: whole numbers separated by commas, e.g. 464, 2068, 7586.');
    r.ids = text.value.split(',').map(Number);
  }
  if ($('rm-position').value !== '') {
    const position = num('rm-position');
    if (!Number.isInteger(position) || position < 0) throw new Error('Next token after position: a whole number from 0 (the t column of the token table), or empty for the last token.');
    r.position = position;
  }
  if ($('rm-steer').value.trim()) r.steer = $('rm-steer').value;
  if ($('rm-steer-layer').value !== '') {
    if (!r.steer) throw new Error('Steer also at a block: say which token to steer toward first.');
    r.steer_layer = Number($('rm-steer-layer').value);
  }
  const n = num('rm-n');
  if (n > 0) {
    r.generate = { n, temperature: num('rm-temperature'), top_k: num('rm-top-k'), top_p: num('rm-top-p'), min_p: num('rm-min-p'), seed: num('rm-seed') };
  }
  return r;
}

async function analyse() {
  try {
    const request = readRequest();
    setState('computing');
    const t0 = performance.now();
    if (workerFiles !== current.files) {
      say('Reading the checkpoint again in a new worker…');
      await loadIntoWorker(current.files);
    }
    say('Computing the report of the model and its random twin…');
    // The figures are drawn as wide as the panel's results (SVG: they scale if it changes).
    const answer = await call({ type: 'analyse', request, width: Math.round($('rm-results').clientWidth) || 960 });
    report = answer.report;
    const kept = await keepVocabulary(answer.vocab);
    vocab = kept.id;
    render(answer.view, kept);
    await showStored(); // the report's whole distribution was kept
    say(`Report computed in ${((performance.now() - t0) / 1000).toFixed(2)} s.`);
    setState('ready');
  } catch (e) {
    fail(e);
  }
}

$('rm-form').addEventListener('submit', (e) => {
  e.preventDefault();
  if (current && !busy()) analyse();
});

$('rm-cancel').addEventListener('click', () => {
  abort?.abort();
  if (pending.size) stopWorker(CANCELLED);
});

const size = (bytes) => (bytes < 1e6 ? `${(bytes / 1e3).toFixed(1)} kB` : `${(bytes / 1e6).toFixed(1)} MB`);

function el(tag, text, className) {
  const node = document.createElement(tag);
  node.textContent = text ?? '';
  if (className) node.className = className;
  return node;
}

/** Keeps the report's whole distribution ({id, bytes} from the worker) in the browser's storage
 *  under its id. {id, size} when kept; {id: null, why} when it could not be. */
async function keepVocabulary(file) {
  if (!file) return { id: null, why: null };
  try {
    const cache = await caches.open(VOCABULARIES);
    const key = new URL(`vocabularies/${file.id}`, location.href).href;
    await cache.put(key, new Response(file.bytes, { headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(file.bytes.length) } }));
    const keys = await cache.keys(); // oldest first
    await Promise.all(keys.slice(0, Math.max(0, keys.length - KEPT_VOCABULARIES)).map((k) => cache.delete(k)));
    return { id: file.id, size: file.bytes.length };
  } catch (error) {
    return { id: null, why: String(error?.name || error) };
  }
}

/** What the next-token link carries, and what this browser adds (the kept whole distribution). */
function linkNote(kept) {
  const v = report.model.vocab;
  const linked = Math.min(v, 64);
  const carried = linked < v ? `its ${linked} most probable tokens and the other ${v - linked} lumped as one` : `all ${v} tokens`;
  if (kept.id) return `In this browser the explorer runs on all ${v} tokens (kept in the browser's storage, ${size(kept.size)}); the link itself carries ${carried}, which is what it shows elsewhere.`;
  return `The link carries ${carried}${kept.why ? `; the whole distribution could not be kept in this browser's storage (${kept.why})` : ''}.`;
}

const SVG = 'http://www.w3.org/2000/svg';
// What the figures' drawing code writes (plotters' SVG backend): nothing else is let in.
const SVG_ELEMENTS = new Set(['svg', 'rect', 'text', 'polyline', 'polygon', 'circle', 'line', 'path', 'g']);
const SVG_ATTRIBUTES = new Set(['width', 'height', 'viewBox', 'x', 'y', 'dx', 'dy', 'cx', 'cy', 'r', 'rx', 'ry', 'x1', 'y1', 'x2', 'y2',
  'points', 'd', 'fill', 'stroke', 'stroke-width', 'stroke-dasharray', 'opacity', 'fill-opacity', 'stroke-opacity',
  'text-anchor', 'dominant-baseline', 'font-family', 'font-size', 'font-weight', 'font-style']);

/** An SVG document (from the worker) as an element of this page, parsed as XML (never as HTML)
 *  and cut down to the elements and attributes a figure uses: the token texts in it cannot add
 *  markup, scripts or links. Null if it does not parse. */
function svgElement(text) {
  const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
  const root = doc.documentElement;
  if (root.namespaceURI !== SVG || root.localName !== 'svg' || doc.getElementsByTagName('parsererror').length) return null;
  for (const node of [root, ...root.querySelectorAll('*')]) {
    if (node.namespaceURI !== SVG || !SVG_ELEMENTS.has(node.localName)) node.remove();
    else for (const { name } of [...node.attributes]) if (!SVG_ATTRIBUTES.has(name)) node.removeAttribute(name);
  }
  // The width follows the panel (CSS) up to the one it was drawn for; the height the viewBox.
  const width = Number(root.getAttribute('width'));
  if (width > 0) root.style.maxWidth = `${width}px`;
  root.removeAttribute('height');
  root.removeAttribute('width');
  return document.importNode(root, true);
}

let downloads = []; // the figures' SVG files offered for download (object URLs), until the next report

/** One figure: the SVG, its caption, and its SVG file to download. */
function figure(part) {
  const box = el('figure', null, 'rm-figure');
  box.dataset.figure = part.figure;
  const svg = svgElement(part.svg);
  const caption = el('figcaption', part.caption + '. ');
  if (svg) {
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', `${part.caption}. The numbers are in the tables of this report.`);
    const url = URL.createObjectURL(new Blob([part.svg], { type: 'image/svg+xml' }));
    downloads.push(url);
    caption.append(Object.assign(el('a', 'Download SVG'), { href: url, download: `real-model-${part.figure}.svg` }));
    box.append(svg, caption);
  } else {
    box.append(el('p', 'This figure could not be drawn; the numbers are in the tables below.', 'help-text'));
  }
  return box;
}

/** Shows the report's parts, shaped for reading by the worker (model-worker.js, `view`): tables
 *  of text cells (`num`: the columns that hold numbers), headings or paragraphs (`tag`) and the
 *  lab's figures (`figure`); the next-token link gains the kept distribution's id and a note. */
function render(view, kept) {
  downloads.forEach((url) => URL.revokeObjectURL(url));
  downloads = [];
  $('rm-results').replaceChildren(...view.flatMap((part) => {
    if (part.figure) return figure(part);
    if (part.nextToken) {
      const a = Object.assign(el('a', part.text, 'rm-next-token'), { href: kept.id ? `${part.href}&vocab=${kept.id}` : part.href });
      return [a, el('p', linkNote(kept), 'help-text')];
    }
    if (part.tag) return Object.assign(el(part.tag, part.text, part.className), part.href ? { href: part.href } : {});
    const t = el('table', null, 'stats');
    t.append(el('caption', part.caption));
    const head = t.insertRow();
    for (const h of part.head) head.append(Object.assign(el('th', h), { scope: 'col' }));
    for (const row of part.rows) {
      const r = t.insertRow();
      row.forEach((cell, i) => r.append(el('td', cell, part.num.includes(i) ? 'num' : null)));
    }
    const box = el('div', null, 'rm-table'); // scrolls sideways on a phone
    box.append(t);
    return box;
  }));
}

// ---------- the browser's storage ----------

async function showStored() {
  let bytes = 0;
  let models = 0;
  let kept = 0;
  let keptBytes = 0;
  try {
    if (await caches.has(CACHE)) {
      const cache = await caches.open(CACHE);
      for (const request of await cache.keys()) {
        if (request.url.endsWith('/')) models++; // a folder's list of files
        else bytes += Number((await cache.match(request)).headers.get('Content-Length'));
      }
    }
    if (await caches.has(VOCABULARIES)) {
      const cache = await caches.open(VOCABULARIES);
      for (const request of await cache.keys()) {
        kept++;
        keptBytes += Number((await cache.match(request)).headers.get('Content-Length'));
      }
    }
  } catch {
    // no Cache Storage here (an insecure context or an opaque origin): nothing stored
  }
  // An unfinished download leaves files without their folder's list: stored, but not complete.
  const also = kept ? ` Also ${kept} whole next-token distribution${kept === 1 ? '' : 's'} for the next-token explorer (${size(keptBytes)}).` : '';
  $('rm-stored').textContent = (bytes ? `Stored in this browser: ${size(bytes)}, ${models} complete checkpoint folder${models === 1 ? '' : 's'}.` : 'No checkpoint is stored in this browser.') + also;
  $('rm-delete').hidden = !bytes && !kept;
}

$('rm-delete').addEventListener('click', async () => {
  await caches.delete(CACHE);
  await caches.delete(VOCABULARIES);
  say('Deleted the stored checkpoints and next-token distributions.');
  showStored();
});

showStored();
