// Light or dark: the reader's choice (kept in this browser), else the system's. Loaded in <head> without defer,
// so the page is drawn in its theme from the start; the button (#theme-toggle) switches it.
"use strict";
window.ScaleTheme = (function () {
  const KEY = "scale-theme";
  const root = document.documentElement;
  const listeners = [];

  function current() {
    const chosen = root.dataset.theme;
    if (chosen) return chosen;
    return window.matchMedia && matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  function set(theme) {
    root.dataset.theme = theme;
    try { localStorage.setItem(KEY, theme); } catch (e) { /* storage refused: the choice lasts this page only */ }
    label();
    listeners.forEach((fn) => fn(theme));
  }

  function label() {
    const button = document.getElementById("theme-toggle");
    if (button) button.textContent = current() === "dark" ? "Light theme" : "Dark theme";
  }

  let saved = null;
  try { saved = localStorage.getItem(KEY); } catch (e) { /* no storage */ }
  if (saved === "light" || saved === "dark") root.dataset.theme = saved;
  document.addEventListener("DOMContentLoaded", () => {
    const button = document.getElementById("theme-toggle");
    if (!button) return;
    label();
    button.addEventListener("click", () => set(current() === "dark" ? "light" : "dark"));
  });
  return {current, set, onChange: (fn) => listeners.push(fn)};
})();
