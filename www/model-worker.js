// The real-model panel's worker (www/real-model.js): runs the on-demand module td-real-model (a
// Hugging Face checkpoint read into the project's transformer) away from the page, which stays
// responsive while a checkpoint loads or a report is computed, and shapes the report into the
// tables the panel shows (here rather than in the panel's script, which every visit downloads).
// The module is imported on the first message only; its exports are synchronous and throw a
// reader-facing string on failure.
//
//   page -> worker: {type: 'load', id, files: [{name, blob}]}   {type: 'analyse', id, request, width}
//                   {type: 'bench', id, shape, tokens, runs, generate}   (scripts/bench-real-model.mjs)
//   worker -> page: {type: 'loaded', id, summary, hash}   {type: 'report', id, report, view, memory_bytes, vocab}
//                   {type: 'bench', id, result}   {type: 'error', id, message}
// memory_bytes: the size of the module's WebAssembly memory afterwards. vocab: {id, bytes} of the
// whole next-token distribution (td_core::vocabulary's file) when the request asked for it.
// width: the CSS pixels the report's figures get (their SVG documents are drawn that wide, by the
// energy lab's own drawing code, td_checkpoint::figures).
//
// The files arrive as Blobs (references, not copies): the page keeps them, so after a cancel (the
// page terminates this worker) it can load the same files into a new worker.
let module = null;
let memory = null; // the module's WebAssembly.Memory

function start() {
  module ??= import('./td-real-model.js').then(async (glue) => {
    ({ memory } = await glue.default({ module_or_path: new URL('./td-real-model_bg.wasm', import.meta.url) }));
    return glue;
  });
  return module;
}

self.onmessage = async ({ data: msg }) => {
  let glue;
  try {
    glue = await start();
  } catch (error) {
    postMessage({ type: 'error', id: msg.id, message: `The real-model module could not start: ${error}` });
    return;
  }
  try {
    if (msg.type === 'load') {
      const bytes = await Promise.all(msg.files.map((f) => f.blob.arrayBuffer()));
      const json = glue.load_checkpoint(
        msg.files.map((f) => f.name),
        bytes.map((b) => new Uint8Array(b)),
      );
      postMessage({ type: 'loaded', id: msg.id, summary: JSON.parse(json), hash: await filesHash(msg.files, bytes) });
    } else if (msg.type === 'analyse') {
      const report = JSON.parse(glue.analyse(JSON.stringify(msg.request)));
      // The whole distribution goes to the page (transferred), which keeps it in the browser's
      // storage for the next-token explorer and adds its id to the link.
      const vocabulary = glue.take_vocabulary();
      const vocab = vocabulary ? { id: glue.vocabulary_id(vocabulary), bytes: vocabulary } : null;
      const names = report.layers ? [...FIGURES, 'layers'] : FIGURES;
      const figures = names.map((name) => ({ name, caption: glue.figure_caption(name), svg: glue.figure_svg(name, msg.width || 960) }));
      postMessage({ type: 'report', id: msg.id, report, view: view(report, figures), memory_bytes: memory.buffer.byteLength, vocab },
        vocabulary ? [vocabulary.buffer] : []);
    } else if (msg.type === 'bench') {
      const result = JSON.parse(glue.bench_shape(msg.shape, msg.tokens, msg.runs, msg.generate));
      postMessage({ type: 'bench', id: msg.id, result: { ...result, memory_bytes: memory.buffer.byteLength } });
    }
  } catch (error) {
    // The module throws strings meant for the reader; anything else (out of memory, a file
    // that could not be read) is named as it is.
    postMessage({ type: 'error', id: msg.id, message: typeof error === 'string' ? error : String(error?.message || error) });
  }
};

/** The files' hash for a link (`checkpoint=file:NAME@HASH`, docs/page-contract.md): SHA-256 of the
 *  lines "<name>\n<SHA-256 of the file, hex>\n", the files in the order of their names. Null where
 *  the browser offers no digest (an insecure context). */
async function filesHash(files, bytes) {
  if (!crypto.subtle) return null;
  const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, '0')).join('');
  const lines = await Promise.all(files.map(async (f, i) => `${f.name}\n${hex(await crypto.subtle.digest('SHA-256', bytes[i]))}\n`));
  const order = files.map((f, i) => [f.name, lines[i]]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return hex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(order.map((o) => o[1]).join(''))));
}

/** The energy lab's figures of a report, in the order shown (then the per-layer one, when asked for). */
const FIGURES = ['series', 'phase', 'scatter'];

/** A number with 6 significant digits; null (not defined) is "n/a". */
const fmt = (x) => (x == null ? 'n/a' : Number.isInteger(x) ? String(x) : x.toPrecision(6));
/** A token's text with its whitespace visible. */
const show = (piece) => piece.replace(/ /g, '·').replace(/\n/g, '↵').replace(/\t/g, '⇥');

/** A table of text cells; the columns listed in `num` hold numbers, written by fmt. */
function table(caption, head, rows, num) {
  return { caption, head, num, rows: rows.map((row) => row.map((cell, i) => (num.includes(i) ? fmt(cell) : String(cell)))) };
}

/** The report as the panel shows it: tables, headings, paragraphs, figures (SVG documents with
 *  their captions) and the next-token link. */
function view(r, figures) {
  const at = r.tokens[r.position];
  const out = [
    ...r.notes.map((note) => ({ tag: 'p', text: note, className: 'help-text' })),
    table(`Statistics: the model beside its random-weight twin (seed ${r.twin_seed}; stored in ${r.twin_dtype}${r.twin_dtype === r.model.weights_dtype ? ' like the checkpoint' : ''})`, ['statistic', 'model', 'random twin'],
      r.statistics.map((s) => [s.name, s.model, s.twin]), [1, 2]),
    ...figures.map((f) => ({ figure: f.name, caption: f.caption, svg: f.svg })),
    table(`Next token after ${show(at.piece)} (position ${r.position})`, ['token', 'id', 'probability'],
      r.next.map((n) => [show(n.piece), n.id, n.p]), [1, 2]),
  ];
  // The link is the module's own (td_core::export::scores_link); only a next-token link is shown.
  if (r.next_token_link.startsWith('index.html#next-token?')) {
    out.push({ tag: 'a', text: 'Open this distribution in the next-token explorer ↗', href: r.next_token_link, nextToken: true });
  }
  const g = r.generation;
  if (g) {
    out.push({ tag: 'h3', text: `Continuation (${g.ids.length} tokens; temperature ${g.temperature}, top-k ${g.top_k}, top-p ${g.top_p}, min-p ${g.min_p}, seed ${g.seed})` },
      { tag: 'p', text: g.text, className: 'continuation' });
  }
  const s = r.steering;
  if (s) {
    out.push(table(`Steering the last position toward ${show(s.target.piece)} (id ${s.target.id})`,
      ['form', '‖δ‖', 'p before', 'p after', 'rank before', 'rank after'],
      s.forms.map((f) => [f.name, f.norm, f.old_p, f.new_p, f.old_rank, f.new_rank]), [1, 2, 3, 4, 5]));
    if (s.steered) {
      out.push({ tag: 'h3', text: `Steered continuation (${s.steered.site})` }, { tag: 'p', text: s.steered.text, className: 'continuation' });
    }
  }
  if (r.layers) {
    out.push(table('Per layer: mean speed of the residual stream entering it, and its logit lens at the last position', ['layer', 'mean speed', 'lens: top tokens'],
      r.layers.map((l) => [l.layer, l.mean_speed, l.top.map((t) => `${show(t.piece)} ${fmt(t.p)}`).join(', ')]), [0, 1]));
  }
  const rows = new Map(r.rows.map((row) => [row.t, row]));
  const twin = new Map(r.twin_rows.map((row) => [row.t, row]));
  out.push(table('K, U and E per token, the model and its random twin (the lab\'s default switches; "n/a": not defined at that position)', ['t', 'token', 'id', 'K', 'U', 'E', 'K twin', 'U twin', 'E twin'],
    r.tokens.map((tok, t) => [t, show(tok.piece), tok.id, rows.get(t)?.k, rows.get(t)?.u, rows.get(t)?.e, twin.get(t)?.k, twin.get(t)?.u, twin.get(t)?.e]), [0, 2, 3, 4, 5, 6, 7, 8]));
  return out;
}
