// Drives the embedded token-dynamics figures of embed-example.html through postMessage.
// Protocol (README, "Embedding"):
//   figure -> page: {type: "token-dynamics:ready", state}, {type: "token-dynamics:height", height}
//   page -> figure: {type: "token-dynamics:set", state: {...}, id}
//   figure -> page: {type: "token-dynamics:state", id, ok, state, messages}
const FIGURE_ORIGIN = location.origin; // where the figures are served from (here: this site)

const figures = new Map(); // iframe element -> { ready, queue }
for (const frame of document.querySelectorAll("iframe[data-figure]")) {
  figures.set(frame, { ready: false, queue: [] });
}
let nextId = 1;

function caption(frame, text) {
  const el = document.getElementById(`${frame.id}-status`);
  if (el) el.textContent = text; // text only: never HTML
}

function describe(state) {
  return `flow = ${state.flow}, T = ${state.T}, truncation = ${state.trunc}`;
}

function send(frame, state) {
  const figure = figures.get(frame);
  const message = { type: "token-dynamics:set", state, id: `${frame.id}-${nextId++}` };
  if (!figure.ready) {
    figure.queue.push(message); // sent once the figure says it is ready
    return;
  }
  frame.contentWindow.postMessage(message, FIGURE_ORIGIN);
}

window.addEventListener("message", (event) => {
  if (event.origin !== FIGURE_ORIGIN) return;
  const data = event.data;
  if (!data || typeof data !== "object") return;
  // Several figures share this page: find the one that sent the message.
  for (const [frame, figure] of figures) {
    if (event.source !== frame.contentWindow) continue;
    if (data.type === "token-dynamics:height" && Number.isFinite(data.height) && data.height > 0) {
      frame.style.height = `${Math.min(Math.ceil(data.height), 3000)}px`;
    }
    if ((data.type === "token-dynamics:ready" || data.type === "token-dynamics:height") && !figure.ready) {
      figure.ready = true;
      for (const message of figure.queue.splice(0)) frame.contentWindow.postMessage(message, FIGURE_ORIGIN);
    }
    if (data.type === "token-dynamics:ready" && data.state) caption(frame, `Live figure: ${describe(data.state)}.`);
    if (data.type === "token-dynamics:state" && data.state) {
      const notes = Array.isArray(data.messages) && data.messages.length ? ` (${data.messages.join("; ")})` : "";
      caption(frame, `Live figure: ${describe(data.state)}${notes}.`);
    }
  }
});

document.addEventListener("click", (event) => {
  const link = event.target instanceof Element ? event.target.closest("a.drive") : null;
  if (!link) return;
  event.preventDefault();
  const frame = document.getElementById(link.dataset.figure);
  if (!frame || !figures.has(frame)) return;
  let state;
  try {
    state = JSON.parse(link.dataset.state);
  } catch {
    return;
  }
  send(frame, state);
});
