// Log viewer: reads /v6 routes of this origin (relative URLs, so a session cookie of this site goes along) and
// shows everything as text nodes only (never as markup). common.js holds what it shares with the search page.
"use strict";
(function () {
  const S = window.ScaleLogs;
  const exeId = (location.pathname.match(/\/logs\/(\d+)/) || [])[1];
  const headers = S.headers;
  const el = (id) => document.getElementById(id);
  const log = el("log"), status = el("status");
  let current = null;  // AbortController of the running request
  let clusterId = null;  // the execution's cluster id, once its summary is read: names the downloaded file

  function setStatus(text) { status.textContent = text; }

  // The header: what ran (job type and version), where (node), when, how it ended, and its job.
  async function showSummary() {
    const resp = await fetch("/v6/job-executions/" + exeId + "/", {headers: headers()});
    if (!resp.ok) { el("exe-status").textContent = "Execution " + resp.status; return; }
    const exe = await resp.json();
    const type = exe.job_type || {};
    clusterId = exe.cluster_id;
    el("title").textContent = "Execution " + exe.id + " (" + exe.cluster_id + ")";
    document.title = exe.cluster_id + " log";
    el("job-type").textContent = (type.title || type.name) + " " + type.version +
      (type.title && type.title !== type.name ? " [" + type.name + "]" : "");
    const badge = el("exe-status");
    badge.textContent = exe.status + (exe.error ? ": " + exe.error.category + " " + (exe.error.title || exe.error.name) : "");
    badge.className = "badge " + String(exe.status).toLowerCase();
    el("node").textContent = exe.node ? "on " + exe.node.hostname : "no node";
    el("times").textContent = "started " + exe.started + (exe.ended ? " ended " + exe.ended : " (running)");
    const link = el("job-link");
    link.href = "/v6/jobs/" + exe.job.id + "/";
    link.textContent = "Job " + exe.job.id + ", try " + exe.exe_num;
    setDownload();
  }

  // The whole log of the chosen stream as text: a plain link, so the browser streams it to disk at any size.
  function setDownload() {
    const stream = el("stream").value;
    const link = el("download");
    link.href = "/v6/job-executions/" + exeId + "/logs/" + stream + "/?format=txt";
    link.download = (clusterId || "execution-" + exeId) + "-" + stream + ".log";
  }

  function lineNode(line, fragment) {
    const div = document.createElement("div");
    div.className = "line " + (line.stream === "stderr" ? "stderr" : "stdout");
    const time = document.createElement("span");
    time.className = "time";
    time.textContent = line["@timestamp"] || "";
    div.appendChild(time);
    if (fragment) S.appendHighlighted(div, fragment); else div.appendChild(document.createTextNode(line.message));
    return div;
  }

  function append(nodes) {
    const atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 5;
    const frag = document.createDocumentFragment();
    nodes.forEach((n) => frag.appendChild(n));
    log.appendChild(frag);
    if (atBottom && el("follow").checked) window.scrollTo(0, document.body.scrollHeight);
  }

  function logsUrl(params) {
    const q = new URLSearchParams(params);
    return "/v6/job-executions/" + exeId + "/logs/" + el("stream").value + "/?" + q.toString();
  }

  async function failed(resp) { setStatus(await S.problem(resp)); }

  async function showTail(signal) {
    const resp = await fetch(logsUrl({tail: el("tail").value || "1000", format: "array"}), {headers: headers(), signal});
    if (resp.status === 204) { setStatus("No lines"); return; }
    if (!resp.ok) { await failed(resp); return; }
    const lines = await resp.json();
    append(lines.map((l) => lineNode(l)));
    setStatus(lines.length + " lines");
  }

  async function showSearch(signal, text) {
    const q = new URLSearchParams({job_exe_id: exeId, q: text, order: "timestamp", page_size: "1000"});
    const stream = el("stream").value;
    if (stream !== "combined") q.set("stream", stream);
    const resp = await fetch("/v6/logs/?" + q.toString(), {headers: headers(), signal});
    if (!resp.ok) { await failed(resp); return; }
    const page = await resp.json();
    append(page.results.map((hit) => lineNode(hit, hit.highlight)));
    setStatus(page.count + " matching lines" + (page.next ? " (first " + page.results.length + " shown)" : ""));
  }

  // ?around=k (a search hit's viewer_url): the lines around line k, it highlighted and scrolled to, with buttons
  // that load more lines above and below (each a context read anchored at the first or last line shown).
  const CONTEXT = 50, MORE = 100;
  const around = new URLSearchParams(location.search).get("around");

  function contextNode(line) {
    const div = lineNode(line);
    div.dataset.order = line.scale_order_num;
    if (line.anchor) div.classList.add("anchor");
    return div;
  }

  async function contextLines(anchor, before, after, signal) {
    const params = {around: anchor, context_before: before, context_after: after, format: "array"};
    const resp = await fetch(logsUrl(params), {headers: headers(), signal});
    if (!resp.ok) { await failed(resp); return null; }
    return resp.json();
  }

  function moreButton(side, signal) {
    const button = document.createElement("button");
    button.id = "more-" + side;
    button.textContent = side === "above" ? "Load " + MORE + " more lines above" : "Load " + MORE + " more lines below";
    button.addEventListener("click", async () => {
      const shown = log.querySelectorAll(".line");
      const edge = side === "above" ? shown[0] : shown[shown.length - 1];
      const lines = await contextLines(edge.dataset.order, side === "above" ? MORE : 0, side === "above" ? 0 : MORE, signal);
      if (!lines) return;
      const fresh = (side === "above" ? lines.slice(0, -1) : lines.slice(1)).map(contextNode);
      const frag = document.createDocumentFragment();
      fresh.forEach((n) => frag.appendChild(n));
      if (side === "above") edge.before(frag); else edge.after(frag);
      if (fresh.length < MORE) button.remove();  // the start (or, for now, the end) of the log
      setStatus(log.querySelectorAll(".line").length + " lines around line " + around);
    });
    return button;
  }

  async function showAround(signal) {
    const lines = await contextLines(around, CONTEXT, CONTEXT, signal);
    if (!lines) return;
    log.appendChild(moreButton("above", signal));
    lines.forEach((l) => log.appendChild(contextNode(l)));
    log.appendChild(moreButton("below", signal));
    const anchor = log.querySelector(".line.anchor");
    if (anchor) anchor.scrollIntoView({block: "center"});
    setStatus(lines.length + " lines around line " + around);
  }

  // Follow with Server-Sent Events read through fetch (so an Authorization header can be sent);
  // when the server closes without "end" (its follow time limit), reconnect with Last-Event-ID.
  async function follow(signal) {
    let lastId = null, count = 0;
    for (;;) {
      const params = lastId ? {follow: "true"} : {follow: "true", tail: el("tail").value || "1000"};
      const extra = {Accept: "text/event-stream"};
      if (lastId) extra["Last-Event-ID"] = lastId;
      const resp = await fetch(logsUrl(params), {headers: headers(extra), signal});
      if (!resp.ok) { await failed(resp); return; }
      setStatus("Following… " + count + " lines");
      const ended = await S.readEvents(resp, (events) => {
        const batch = [];
        events.forEach((event) => {
          if (event.id) lastId = event.id;
          if (event.type === "message" && event.data) batch.push(lineNode(JSON.parse(event.data)));
        });
        if (batch.length) { append(batch); count += batch.length; setStatus("Following… " + count + " lines"); }
      });
      if (ended) { setStatus(count + " lines; the execution has ended"); showSummary(); return; }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  function reload() {
    if (current) current.abort();
    current = new AbortController();
    const signal = current.signal;
    log.textContent = "";
    setStatus("Loading…");
    const text = el("search").value.trim();
    const run = text ? showSearch(signal, text) : el("follow").checked ? follow(signal)
      : around ? showAround(signal) : showTail(signal);
    run.catch((e) => { if (e.name !== "AbortError") setStatus("Error: " + e.message); });
  }

  el("title").textContent = "Execution " + exeId;
  document.title = "Execution " + exeId + " log";
  el("stream").addEventListener("change", () => { setDownload(); reload(); });
  el("download").addEventListener("click", (e) => {
    S.downloadWithToken(e, el("download")).then((err) => { if (err) setStatus(err); })
      .catch((err) => setStatus("Error: " + err.message));
  });
  el("follow").addEventListener("change", reload);
  el("tail").addEventListener("change", reload);
  el("search-form").addEventListener("submit", (e) => { e.preventDefault(); reload(); });
  const initial = new URLSearchParams(location.search);
  if (initial.get("stream")) el("stream").value = initial.get("stream");
  if (initial.get("follow") === "true") el("follow").checked = true;
  setDownload();
  showSummary().catch((e) => { el("exe-status").textContent = "Error: " + e.message; });
  reload();
})();
