// What the viewer and the search page share: the READ_TOKEN of this tab, request headers, error messages, search
// highlights rebuilt as text nodes (never markup), Server-Sent Events read through fetch, and downloads.
"use strict";
window.ScaleLogs = (function () {
  // A READ_TOKEN given in the fragment (#token=..., which never reaches a server) is kept for this tab only and
  // taken out of the address at once, so that it stays out of the tab's history, bookmarks and copied links.
  function takeToken() {
    const given = new URLSearchParams(location.hash.slice(1)).get("token");
    if (given) {
      sessionStorage.setItem("scale-read-token", given);
      history.replaceState(null, "", location.pathname + location.search);
      return given;
    }
    return sessionStorage.getItem("scale-read-token");
  }
  const token = takeToken();

  function headers(extra) {
    const h = Object.assign({}, extra);
    if (token) h.Authorization = "Bearer " + token;
    return h;
  }

  // A write's headers: with a session, its CSRF token (the csrftoken cookie the server binds to the session,
  // set on the session's first request) in X-CSRFToken; a bearer token needs none, and sending it costs nothing.
  function writeHeaders(extra) {
    const found = document.cookie.split(";").map((c) => c.trim()).find((c) => c.startsWith("csrftoken="));
    const csrf = found ? decodeURIComponent(found.slice("csrftoken=".length)) : "";
    return headers(Object.assign({"X-CSRFToken": csrf}, extra));
  }

  // An error answer as one line of text; a 401 opens the login form (login.js) and says so.
  async function problem(resp) {
    if (resp.status === 401 && window.ViewerLogin) { window.ViewerLogin.show(); return "Log in to read the logs"; }
    let detail = resp.statusText;
    try { detail = (await resp.json()).detail || detail; } catch (e) { /* not JSON */ }
    return "Error " + resp.status + ": " + detail;
  }

  // The search API's highlight is HTML-escaped text with <em> around matches: rebuild it as text nodes
  // and <mark> elements, decoding entities through an inert document.
  const decoder = new DOMParser();
  function appendHighlighted(parent, fragment) {
    fragment.split(/<em>|<\/em>/).forEach((part, i) => {
      const text = part.indexOf("&") < 0 ? part
        : decoder.parseFromString("<!DOCTYPE html><body>" + part, "text/html").body.textContent;
      if (i % 2) { const m = document.createElement("mark"); m.textContent = text; parent.appendChild(m); }
      else parent.appendChild(document.createTextNode(text));
    });
  }

  function parseEvent(text) {
    const event = {type: "message", data: "", id: null};
    text.split("\n").forEach((row) => {
      if (!row || row[0] === ":") return;
      const i = row.indexOf(":");
      const field = i < 0 ? row : row.slice(0, i);
      const value = i < 0 ? "" : row.slice(i + 1).replace(/^ /, "");
      if (field === "event") event.type = value;
      else if (field === "data") event.data += (event.data ? "\n" : "") + value;
      else if (field === "id") event.id = value;
    });
    return event;
  }

  // Reads an event stream answer to its end, handing each batch of events (those that arrived together) to
  // onBatch; answers whether the server sent "end" (else it closed at its time limit: the caller reconnects).
  async function readEvents(resp, onBatch) {
    const reader = resp.body.getReader();
    const text = new TextDecoder();
    let buffer = "", ended = false;
    for (;;) {
      const {value, done} = await reader.read();
      if (done) return ended;
      buffer += text.decode(value, {stream: true}).replace(/\r\n?/g, "\n");
      const batch = [];
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const event = parseEvent(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
        if (event.type === "end") ended = true;
        batch.push(event);
      }
      if (batch.length) onBatch(batch);
    }
  }

  // With a token (read-token mode without a session) a link can't send it: fetch, then save the body. Answers
  // an error text, or null when the download started (or the link will do it itself).
  async function downloadWithToken(event, link) {
    if (!token) return null;
    event.preventDefault();
    const resp = await fetch(link.href, {headers: headers()});
    if (resp.status === 204) return "No lines to download";
    if (!resp.ok) return problem(resp);
    const saved = document.createElement("a");
    saved.href = URL.createObjectURL(await resp.blob());
    saved.download = link.download;
    saved.click();
    setTimeout(() => URL.revokeObjectURL(saved.href), 60000);
    return null;
  }

  return {token, headers, writeHeaders, problem, appendHighlighted, readEvents, downloadWithToken};
})();
