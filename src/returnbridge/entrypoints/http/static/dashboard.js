// returnbridge dashboard: the little the page needs beyond HTML. Everything works without it.
"use strict";

// One "Ignore..." or "Write off..." panel open at a time; its note box gets the focus.
document.addEventListener("toggle", (event) => {
  const opened = event.target;
  if (!(opened instanceof HTMLDetailsElement) || !opened.open) return;
  for (const other of document.querySelectorAll("details.ask[open]")) {
    if (other !== opened) other.open = false;
  }
  const note = opened.querySelector("input[name=note]");
  if (note) note.focus();
}, true);

// Escape closes an open panel.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  for (const open of document.querySelectorAll("details.ask[open]")) open.open = false;
});

// A decision is sent once: the button waits for the answer.
document.addEventListener("submit", (event) => {
  const button = event.target.querySelector("button[type=submit]");
  if (button) {
    button.disabled = true;
    button.textContent = "Working\u2026";
  }
});

// Fresh figures every minute, unless the person is in the middle of something.
setInterval(() => {
  const busy = document.querySelector("details.ask[open]") ||
    (document.activeElement && document.activeElement.tagName === "INPUT");
  if (document.visibilityState === "visible" && !busy && document.getElementById("refresh")) {
    window.location.reload();
  }
}, 60000);
