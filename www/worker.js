// The page's computing worker: runs the page's own WebAssembly module (worker.js?explorer=<name>)
// and computes the scenes that do not fit a frame, in slices of about 40 ms. After every slice it
// posts what was computed and yields, so a newer job (a control change on the page) supersedes
// the current one at once; the page drops messages of older jobs. A module file served from the
// site's origin, so it runs under the page's Content-Security-Policy (worker-src 'self').
const explorer = new URL(self.location.href).searchParams.get('explorer');
const SLICE_MS = 40;
let wasm = null;
let latest = -1;

let ready = null;

// The page sends its compiled module first (WebAssembly.Module is shared, not copied): the worker
// neither downloads nor compiles the wasm again. Without one it loads the module by its URL.
function load(module) {
  if (!/^[a-z-]+$/.test(explorer || '')) return Promise.reject(new Error(`no explorer named ${explorer}`));
  return import(`./td-${explorer}.js`).then(async (glue) => {
    await glue.default({ module_or_path: module || new URL(`./td-${explorer}_bg.wasm`, import.meta.url) });
    wasm = glue;
  });
}

// Yields to the event loop so that a newer job or a cancel from the page runs first: a message to
// ourselves, not setTimeout(0), which browsers clamp to 4 ms once nested (about 1 s over the 200
// slices of a large attention run).
const wakeChannel = new MessageChannel();
let wake = null;
wakeChannel.port1.onmessage = () => {
  const resolve = wake;
  wake = null;
  if (resolve) resolve();
};
const yieldToMessages = () =>
  new Promise((resolve) => {
    wake = resolve;
    wakeChannel.port2.postMessage(null);
  });

// A job is one part (`shard` of `shards`) of a scene: a scene that splits into independent parts
// (the trajectories of a next-token scene) is shared by several such workers.
async function run({ generation, hash, payload, shard = 0, shards = 1 }) {
  if (!wasm.worker_begin(hash, payload ?? null, shard, shards)) {
    postMessage({ type: 'error', generation, shard, message: 'this scene is computed on the page' });
    return;
  }
  for (;;) {
    if (generation !== latest) return; // superseded
    const bytes = wasm.worker_step(SLICE_MS);
    // Read before posting: the transfer detaches the buffer, and a detached view reads
    // `undefined`, which once kept a finished job posting its last part forever.
    const done = bytes[0] === 1;
    postMessage({ type: 'progress', generation, shard, bytes }, [bytes.buffer]);
    if (done) return;
    await yieldToMessages();
  }
}

self.onmessage = async (event) => {
  const msg = event.data || {};
  if (msg.type === 'module') {
    ready ??= load(msg.module instanceof WebAssembly.Module ? msg.module : null);
    return;
  }
  if (msg.type === 'cancel') {
    latest = -1;
    return;
  }
  if (msg.type !== 'job') return;
  latest = msg.generation;
  ready ??= load(null);
  try {
    await ready;
    if (msg.generation === latest) await run(msg);
  } catch (error) {
    postMessage({ type: 'error', generation: msg.generation, message: String(error) });
  }
};
