// Loads the page's own WebAssembly module (one per explorer). A module file, not an inline
// script, so the page runs under Content-Security-Policy: script-src 'self' 'wasm-unsafe-eval'.
// A link that names another explorer (e.g. index.html#attention?…) goes to that explorer's page
// first, with the same hash, before anything heavy loads; the pages are the site's navigation
// links (nav.explorers a[data-explorer]), the one list the site has.
const here = document.body.dataset.explorer;
const pages = new Map(
  [...document.querySelectorAll('nav.explorers a[data-explorer]')].map((a) => [a.dataset.explorer, a.getAttribute('href')]),
);
const named = /^#([a-z-]+)(?:[?&]|$)/.exec(location.hash);

function report(error) {
  const box = document.getElementById('messages');
  const list = document.getElementById('message-list');
  if (box && list) {
    const item = document.createElement('li');
    item.textContent = 'The explorer could not start: ' + String(error);
    list.replaceChildren(item);
    box.hidden = false;
  }
  console.error(error);
}

if (named && named[1] !== here && pages.has(named[1])) {
  location.replace(pages.get(named[1]) + location.hash);
} else {
  // Compiled here rather than by the glue so the page's worker can be handed the same module
  // (window.tdWasmModule; see worker.js) instead of downloading and compiling it again.
  const url = new URL(`./td-${here}_bg.wasm`, import.meta.url);
  const compiled = WebAssembly.compileStreaming(fetch(url)).catch(() =>
    fetch(url).then((response) => response.arrayBuffer()).then((bytes) => WebAssembly.compile(bytes)),
  );
  Promise.all([import(`./td-${here}.js`), compiled])
    .then(([{ default: init }, module]) => {
      window.tdWasmModule = module;
      return init({ module_or_path: module });
    })
    .catch(report);
}
