// The search page's saved searches (/v6/saved-searches/): the caller's own and the shared ones, each a link that
// opens this page with its search; "Save this search" keeps the search in the address under a name (private
// unless Shared is on); the owner's entries have a delete button. Any signed-in user may save, read-only ones too.
// Built with DOM calls only (names are text nodes, never markup).
"use strict";
(function () {
  const S = window.ScaleLogs;
  const API = "/v6/saved-searches/";
  const el = (id) => document.getElementById(id);
  const list = el("saved-list"), message = el("saved-message");

  // The search in the address as /v6/logs/ reads it: the page's own settings (view, live) are left out, and a
  // regex: query becomes regex=, so an alert on the saved search searches what the page showed.
  function currentQuery() {
    const kept = new URLSearchParams();
    new URLSearchParams(location.search).forEach((value, name) => {
      if (name === "view" || name === "live") return;
      if (name === "q" && value.startsWith("regex:")) { if (value.length > 6) kept.append("regex", value.slice(6)); }
      else kept.append(name, value);
    });
    return kept.toString();
  }

  function say(text) { message.textContent = text; }

  // Without a credential (the page is open to everyone unless READ_TOKEN is set) only a login lets one save.
  function askLogin() {
    list.replaceChildren();
    el("save-form").hidden = true;
    const note = document.createElement("li");
    note.className = "muted";
    note.textContent = "Log in to keep saved searches. ";
    if (window.ViewerLogin) {
      const button = document.createElement("button");
      Object.assign(button, {type: "button", className: "secondary outline", textContent: "Log in"});
      button.addEventListener("click", () => window.ViewerLogin.show());
      note.appendChild(button);
    }
    list.appendChild(note);
  }

  function item(saved) {
    const li = document.createElement("li");
    li.className = "saved-item";
    li.dataset.id = String(saved.id);
    const link = document.createElement("a");
    link.className = "saved-link";
    link.href = location.pathname + (saved.query ? "?" + saved.query : "");
    link.textContent = saved.name;
    li.appendChild(link);
    const note = document.createElement("span");
    note.className = "muted";
    note.textContent = (saved.shared ? " shared" : "") + (saved.can_change ? "" : " by " + saved.owner);
    li.appendChild(note);
    if (saved.can_change) {
      const remove = document.createElement("button");
      Object.assign(remove, {type: "button", className: "saved-delete secondary outline", textContent: "Delete"});
      remove.setAttribute("aria-label", "Delete " + saved.name);
      remove.addEventListener("click", () => removeSaved(saved));
      li.appendChild(remove);
    }
    return li;
  }

  async function load() {
    try {
      const resp = await fetch(API, {headers: S.headers({Accept: "application/json"})});
      if (resp.status === 401) { askLogin(); return; }
      if (!resp.ok) { say(await S.problem(resp)); return; }
      const body = await resp.json();
      el("save-form").hidden = false;
      list.replaceChildren(...body.results.map(item));
      if (!body.results.length) {
        const none = document.createElement("li");
        none.className = "muted";
        none.textContent = "None yet.";
        list.appendChild(none);
      }
    } catch (e) {
      say("Error: " + e.message);
    }
  }

  async function send(url, method, body) {
    const init = {method, headers: S.writeHeaders({Accept: "application/json"})};
    if (body) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(url, init);
    return resp.ok ? null : S.problem(resp);
  }

  async function removeSaved(saved) {
    try {
      const error = await send(API + saved.id + "/", "DELETE");
      say(error || "Deleted " + saved.name);
      if (!error) await load();
    } catch (e) {
      say("Error: " + e.message);
    }
  }

  el("save-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = el("save-name").value.trim();
    if (!name) return;
    try {
      const error = await send(API, "POST", {name, query: currentQuery(), shared: el("save-shared").checked});
      if (error) { say(error); return; }
      el("save-name").value = "";
      el("save-shared").checked = false;
      say("Saved " + name);
      await load();
    } catch (err) {
      say("Error: " + err.message);
    }
  });

  load();
})();
