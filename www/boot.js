// Loads the WebAssembly explorer. A module file (not an inline script), so the page runs under
// Content-Security-Policy: script-src 'self' 'wasm-unsafe-eval'.
import init from './token-dynamics.js';

init({ module_or_path: new URL('./token-dynamics_bg.wasm', import.meta.url) }).catch((error) => {
  const box = document.getElementById('messages');
  const list = document.getElementById('message-list');
  if (box && list) {
    const item = document.createElement('li');
    item.textContent = 'The explorer could not start: ' + String(error);
    list.replaceChildren(item);
    box.hidden = false;
  }
  console.error(error);
});
