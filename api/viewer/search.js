// The search page: a search of /v6/logs/ kept in this page's address (so a link shares it), its matches over time
// (search-chart.js), facets, results walked by cursor as far as one scrolls, export, and live new matches.
// Log text only ever becomes text nodes (never markup), as in the viewer.
"use strict";
(function () {
  const S = window.ScaleLogs;
  const el = (id) => document.getElementById(id);
  const FILTERS = ["job_type_name", "job_type_version", "stream", "node", "status", "error_category"];
  // Facet field (of /v6/logs/facets/) -> the filter it sets, and its heading.
  const FACETS = [
    ["job_type", "job_type_name", "Job type"],
    ["job_type_version", "job_type_version", "Version"],
    ["status", "status", "Job status"],
    ["error_category", "error_category", "Error category"],
    ["stream", "stream", "Stream"],
    ["node", "node", "Node"],
  ];
  const LINES_PAGE = 500, GROUPS_PAGE = 100;
  const number = new Intl.NumberFormat("en-US");
  const results = el("results"), liveLines = el("live-lines");

  // --- the search, as the address holds it -----------------------------------------------------------------
  function readState() {
    const p = new URLSearchParams(location.search);
    const filters = {};
    FILTERS.forEach((name) => { filters[name] = p.getAll(name).filter((v) => v !== ""); });
    return {
      // A saved search (search-saved.js) keeps a regex: query as the API's regex= parameter.
      q: p.get("q") || (p.get("regex") ? "regex:" + p.get("regex") : ""),
      filters,
      started: p.get("started") || "",
      ended: p.get("ended") || "",
      view: p.get("view") === "execution" ? "execution" : "lines",
      order: p.get("order") === "timestamp" ? "timestamp" : "-timestamp",
      live: p.get("live") === "true",
    };
  }

  function pageUrl(state) {
    const p = new URLSearchParams();
    if (state.q) p.set("q", state.q);
    FILTERS.forEach((name) => state.filters[name].forEach((v) => p.append(name, v)));
    if (state.started) p.set("started", state.started);
    if (state.ended) p.set("ended", state.ended);
    if (state.view !== "lines") p.set("view", state.view);
    if (state.order !== "-timestamp") p.set("order", state.order);
    if (state.live) p.set("live", "true");
    const query = p.toString();
    return location.pathname + (query ? "?" + query : "");
  }

  let state = readState();

  function save(push) {
    const url = pageUrl(state);
    if (url === location.pathname + location.search) return;
    if (push) history.pushState(null, "", url); else history.replaceState(null, "", url);
  }

  // --- the form <-> the state --------------------------------------------------------------------------------
  const list = (text) => text.split(",").map((v) => v.trim()).filter((v) => v);

  function fillForm() {
    el("q").value = state.q;
    FILTERS.forEach((name) => { el("f-" + name).value = state.filters[name].join(", "); });
    el("f-started").value = state.started;
    el("f-ended").value = state.ended;
    const preset = !state.ended && [...el("range").options].some((o) => o.value === state.started && o.value !== "custom");
    el("range").value = preset ? state.started : (state.started || state.ended ? "custom" : "");
    showWindowInputs();
    el("order").value = state.order;
    el("live").checked = state.live;
    ["lines", "execution"].forEach((v) => el("view-" + v).setAttribute("aria-pressed", String(state.view === v)));
    el("order").disabled = state.view === "execution";  // executions come in their first match's time order
    el("zoom-out").hidden = !(state.started || state.ended);
    document.title = state.q ? state.q + " - log search" : "Log search";
  }

  function showWindowInputs() {
    const custom = el("range").value === "custom";
    document.querySelectorAll(".filters label.window").forEach((l) => { l.hidden = !custom; });
  }

  function readForm() {
    state.q = el("q").value.trim();
    FILTERS.forEach((name) => { state.filters[name] = list(el("f-" + name).value); });
    const range = el("range").value;
    if (range === "custom") {
      state.started = el("f-started").value.trim();
      state.ended = el("f-ended").value.trim();
    } else {
      state.started = range;
      state.ended = "";
    }
  }

  // --- the API's parameters of the state -------------------------------------------------------------------
  // A duration (a quick range such as PT1H) becomes an instant once per search, so the chart, the facets and
  // every page of the walk see the same window.
  function resolve(text, now) {
    const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(text);
    if (!m || text === "P" || text.endsWith("T")) return text;
    const seconds = ((Number(m[1] || 0) * 24 + Number(m[2] || 0)) * 60 + Number(m[3] || 0)) * 60 + Number(m[4] || 0);
    return new Date(now - seconds * 1000).toISOString();
  }

  function apiParams(now) {
    const p = new URLSearchParams();
    const text = state.q.trim();
    if (text.startsWith("regex:")) {
      if (text.slice(6)) p.set("regex", text.slice(6));
    } else if (text) {
      p.set("q", text);
    }
    FILTERS.forEach((name) => state.filters[name].forEach((v) => p.append(name, v)));
    if (state.started) p.set("started", resolve(state.started, now));
    if (state.ended) p.set("ended", resolve(state.ended, now));
    return p;
  }

  const withParams = (path, base, extra) => {
    const p = new URLSearchParams(base);
    Object.entries(extra || {}).forEach(([k, v]) => p.set(k, v));
    return path + "?" + p.toString();
  };
  const local = (url) => { const u = new URL(url, location.href); return u.pathname + u.search; };

  // --- one run of the search -----------------------------------------------------------------------------
  let run = {id: 0, abort: new AbortController()};
  let walk = {next: null, loading: false, shown: 0, count: 0};

  function setStatus(text) { el("status").textContent = text; }

  async function getJson(url, signal) {
    const resp = await fetch(url, {headers: S.headers({Accept: "application/json"}), signal});
    if (!resp.ok) return {error: await S.problem(resp), status: resp.status};
    return {body: await resp.json()};
  }

  function search() {
    run.abort.abort();
    run = {id: run.id + 1, abort: new AbortController()};
    const current = run;
    fillForm();
    results.textContent = "";
    el("end-note").textContent = "";
    el("total").textContent = "Searching…";
    el("chart-note").textContent = "";
    setStatus("");
    selected = null;
    const base = apiParams(Date.now());
    current.base = base;
    setExports(base);
    showChips();
    walk = {next: null, loading: false, shown: 0, count: 0};
    if (state.view === "execution") walk.next = withParams("/v6/logs/", base, {group: "execution", page_size: GROUPS_PAGE});
    else walk.next = withParams("/v6/logs/", base, {order: state.order, cursor: "*", page_size: LINES_PAGE});
    const guard = (p) => p.catch((e) => { if (e.name !== "AbortError") setStatus("Error: " + e.message); });
    guard(loadChart(current, base));
    guard(loadFacets(current, base));
    guard(loadMore(current));
    restartLive();
  }

  // --- the chart -------------------------------------------------------------------------------------------
  async function loadChart(current, base) {
    const {body, error} = await getJson(withParams("/v6/logs/histogram/", base, {by: "stream"}), current.abort.signal);
    if (current !== run) return;
    if (error) { el("total").textContent = error; window.SearchChart.draw(el("chart"), {buckets: []}); return; }
    el("total").textContent = number.format(body.total) + (body.total === 1 ? " match" : " matches");
    const undated = body.undated ? ", " + number.format(body.undated) + " without a time" : "";
    el("chart-note").textContent = body.buckets.length
      ? "per " + body.interval + undated + " · drag across the chart to narrow the time window" : undated;
    window.SearchChart.draw(el("chart"), body, (started, ended) => {
      state.started = started;
      state.ended = ended;
      save(true);
      search();
    });
  }

  // --- facets --------------------------------------------------------------------------------------------
  async function loadFacets(current, base) {
    const box = el("facets");
    box.textContent = "";
    const url = withParams("/v6/logs/facets/", base, {fields: FACETS.map((f) => f[0]).join(",")});
    const {body, error, status} = await getJson(url, current.abort.signal);
    if (current !== run) return;
    if (error) {
      const p = document.createElement("p");
      p.className = "muted";
      p.textContent = status === 404 ? "This server has no facets yet." : error;
      box.appendChild(p);
      return;
    }
    FACETS.forEach(([field, param, heading]) => {
      const values = (body.facets || {})[field] || [];
      if (!values.length) return;
      const section = document.createElement("section");
      section.className = "facet";
      section.dataset.field = field;
      const h = document.createElement("h3");
      h.textContent = heading;
      section.appendChild(h);
      const ul = document.createElement("ul");
      values.forEach(({value, count}) => {
        const li = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        const active = state.filters[param].includes(String(value));
        button.className = "facet-value" + (active ? " active" : "");
        button.dataset.param = param;
        button.dataset.value = value;
        button.title = active ? "Remove this filter" : "Only " + heading.toLowerCase() + " " + value;
        const name = document.createElement("span");
        name.className = "name";
        name.textContent = value === "" || value === null ? "(none)" : value;
        const n = document.createElement("span");
        n.className = "count";
        n.textContent = number.format(count);
        button.append(name, n);
        button.addEventListener("click", () => {
          state.filters[param] = active ? state.filters[param].filter((v) => v !== String(value)) : [String(value)];
          save(true);
          search();
        });
        li.appendChild(button);
        ul.appendChild(li);
      });
      section.appendChild(ul);
      box.appendChild(section);
    });
    if (!box.children.length) {
      const p = document.createElement("p");
      p.className = "muted";
      p.textContent = "No facets: nothing matched.";
      box.appendChild(p);
    }
  }

  // The filters in force, each a button that removes it.
  function showChips() {
    const chips = el("chips");
    chips.textContent = "";
    FILTERS.forEach((name) => state.filters[name].forEach((value) => {
      const chip = document.createElement("button");
      chip.type = "button";
      chip.className = "chip secondary outline";
      chip.textContent = name.replace(/_/g, " ") + ": " + value + " ×";
      chip.title = "Remove this filter";
      chip.addEventListener("click", () => {
        state.filters[name] = state.filters[name].filter((v) => v !== value);
        save(true);
        search();
      });
      chips.appendChild(chip);
    }));
  }

  // --- results -------------------------------------------------------------------------------------------
  const shortTime = (t) => (t || "").replace("T", " ").replace(/(\.\d{3})\d*Z$/, "$1Z");

  function hitRow(hit) {
    const row = document.createElement("a");
    row.className = "hit line " + (hit.stream === "stderr" ? "stderr" : "stdout");
    if (hit.viewer_url) row.href = local(hit.viewer_url); else row.tabIndex = -1;
    const time = document.createElement("span");
    time.className = "time";
    time.textContent = shortTime(hit["@timestamp"]);
    time.title = hit["@timestamp"] || "";
    const mark = document.createElement("span");
    mark.className = "stream-mark";
    mark.textContent = hit.stream === "stderr" ? "ERR" : hit.stream === "stdout" ? "OUT" : "—";
    const origin = document.createElement("span");
    origin.className = "origin";
    const type = hit.job_type || {};
    origin.textContent = [type.name ? type.name + " " + (type.version || "") : null,
      hit.job_id ? "job " + hit.job_id + (hit.exe_num ? "." + hit.exe_num : "") : hit.scale_job_exe,
      hit.scale_node].filter((v) => v).join(" · ");
    origin.title = origin.textContent + (hit.job_status ? " · job " + hit.job_status : "");
    if (hit.job_status) {  // the job's status as a coloured dot, as the badges colour it
      const dot = document.createElement("span");
      dot.className = "status-dot " + String(hit.job_status).toLowerCase();
      origin.prepend(dot);
    }
    const message = document.createElement("span");
    message.className = "message";
    if (hit.highlight) S.appendHighlighted(message, hit.highlight);
    else message.textContent = hit.message;
    row.append(time, mark, origin, message);
    return row;
  }

  function groupRow(group) {
    const row = document.createElement("a");
    row.className = "group";
    const first = group.first_match || {};
    if (first.viewer_url) row.href = local(first.viewer_url); else row.tabIndex = -1;
    const head = document.createElement("div");
    head.className = "group-head";
    const badge = document.createElement("span");
    badge.className = "badge " + String(group.job_status || "").toLowerCase();
    badge.textContent = group.job_status || "";
    const title = document.createElement("strong");
    title.textContent = group.job_id ? "Job " + group.job_id + ", try " + group.exe_num : group.cluster_id;
    const type = document.createElement("span");
    const t = group.job_type || first.job_type || {};
    type.textContent = t.name ? t.name + " " + (t.version || "") : "";
    const matches = document.createElement("span");
    matches.className = "matches";
    matches.textContent = number.format(group.matches) + (group.matches === 1 ? " matching line" : " matching lines");
    const when = document.createElement("span");
    when.className = "muted";
    when.textContent = "first at " + shortTime(first["@timestamp"]);
    head.append(badge, title, type, matches, when);
    const line = document.createElement("div");
    line.className = "line " + (first.stream === "stderr" ? "stderr" : "stdout");
    if (first.highlight) S.appendHighlighted(line, first.highlight); else line.textContent = first.message || "";
    row.append(head, line);
    return row;
  }

  async function loadMore(current) {
    current = current || run;
    if (!walk.next || walk.loading || current !== run) return;
    walk.loading = true;
    const {body, error, status} = await getJson(walk.next, current.abort.signal);
    if (current !== run) return;
    walk.loading = false;
    if (error) {
      walk.next = null;
      showNext();
      if (status === 410) expired(current); else setStatus(error);
      return;
    }
    const rows = document.createDocumentFragment();
    const make = state.view === "execution" ? groupRow : hitRow;
    body.results.forEach((r) => rows.appendChild(make(r)));
    results.appendChild(rows);
    walk.shown += body.results.length;
    walk.count = body.count;
    walk.next = body.next ? local(body.next) : null;
    showNext();
    const what = state.view === "execution" ? " executions" : " lines";
    setStatus("Showing " + number.format(walk.shown) + " of " + number.format(walk.count) + what);
    if (!walk.next) el("end-note").textContent = walk.shown ? "The end: every match is shown." : "Nothing matched.";
    if (walk.next && nearBottom()) loadMore(current).catch(failedLoad);
  }

  // The walk's next page, also on the sentinel (data-next): the page's state, to be read as the DOM.
  function showNext() { el("sentinel").dataset.next = walk.next || ""; }

  // A walk's point-in-time lives 5 minutes after its last page (410 after that): say so, and offer to start over.
  function expired(current) {
    if (current !== run) return;
    setStatus("These results expired.");
    const note = el("end-note");
    note.textContent = "The server keeps a search's results 5 minutes after the last page read; run it again to go on. ";
    const again = document.createElement("button");
    again.type = "button";
    again.id = "search-again";
    again.className = "secondary";
    again.textContent = "Search again";
    again.addEventListener("click", () => search());
    note.appendChild(again);
  }

  function failedLoad(e) { if (e.name !== "AbortError") setStatus("Error: " + e.message); }
  function nearBottom() { return el("sentinel").getBoundingClientRect().top < window.innerHeight + 1500; }
  new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadMore().catch(failedLoad);
  }, {rootMargin: "0px 0px 1500px 0px"}).observe(el("sentinel"));

  // --- export --------------------------------------------------------------------------------------------
  function setExports(base) {
    ["ndjson", "csv", "txt"].forEach((fmt) => { el("export-" + fmt).href = withParams("/v6/logs/export/", base, {format: fmt}); });
  }
  ["ndjson", "csv", "txt"].forEach((fmt) => el("export-" + fmt).addEventListener("click", (e) => {
    S.downloadWithToken(e, e.currentTarget).then((err) => { if (err) setStatus(err); }).catch(failedLoad);
  }));

  // --- live: the search's follow, new matches on top --------------------------------------------------------
  let live = {abort: new AbortController(), count: 0};

  function restartLive() {
    live.abort.abort();
    liveLines.textContent = "";
    live = {abort: new AbortController(), count: 0};
    if (state.live) follow(live, run.base).catch((e) => { if (e.name !== "AbortError") liveNote(live, "Live stopped: " + e.message); });
  }

  function liveNote(current, text) {
    if (current !== live) return;
    let head = liveLines.querySelector(".live-head");
    if (!head) {
      head = document.createElement("div");
      head.className = "live-head";
      liveLines.prepend(head);
    }
    head.textContent = text;
  }

  async function follow(current, base) {
    let lastId = null;
    const url = withParams("/v6/logs/", base, {follow: "true"});
    liveNote(current, "Live: waiting for new matches…");
    for (;;) {
      const extra = {Accept: "text/event-stream"};
      if (lastId) extra["Last-Event-ID"] = lastId;
      const resp = await fetch(url, {headers: S.headers(extra), signal: current.abort.signal});
      if (current !== live) return;
      if (!resp.ok) { liveNote(current, "Live: " + (await S.problem(resp))); return; }
      const ended = await S.readEvents(resp, (batch) => {
        const head = liveLines.querySelector(".live-head");
        const before = current.count;
        batch.forEach((event) => {
          if (event.id) lastId = event.id;  // the stream opens with an id alone: the start, to resume from
          if (event.type !== "message" || !event.data) return;
          head.after(hitRow(JSON.parse(event.data)));
          current.count += 1;
        });
        if (current.count === before) return;
        liveNote(current, "Live: " + number.format(current.count) + (current.count === 1 ? " new match" : " new matches"));
      });
      if (ended || current !== live) { liveNote(current, "Live: the follow has ended"); return; }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  // --- keyboard: / to the query, j and k to move, Enter to open -----------------------------------------------
  let selected = null;

  function move(step) {
    const rows = [...document.querySelectorAll("#live-lines a.hit, #results > a")];
    if (!rows.length) return;
    const at = rows.indexOf(selected);
    const next = rows[Math.min(rows.length - 1, Math.max(0, at < 0 ? 0 : at + step))];
    if (selected) selected.classList.remove("selected");
    selected = next;
    selected.classList.add("selected");
    selected.focus({preventScroll: true});
    selected.scrollIntoView({block: "nearest"});
  }

  document.addEventListener("keydown", (e) => {
    const typing = /^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName);
    if (e.key === "/" && !typing) { e.preventDefault(); el("q").focus(); el("q").select(); return; }
    if (e.key === "Escape" && typing) { e.target.blur(); return; }
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "j") move(1);
    else if (e.key === "k") move(-1);
    else if (e.key === "Enter" && selected && selected.href && e.target !== selected) location.href = selected.href;
  });

  // --- controls --------------------------------------------------------------------------------------------
  el("search-form").addEventListener("submit", (e) => { e.preventDefault(); readForm(); save(true); search(); });
  el("range").addEventListener("change", () => {
    showWindowInputs();
    if (el("range").value !== "custom") { readForm(); save(true); search(); }
  });
  el("f-stream").addEventListener("change", () => { readForm(); save(true); search(); });
  el("order").addEventListener("change", () => { state.order = el("order").value; save(true); search(); });
  ["lines", "execution"].forEach((v) => el("view-" + v).addEventListener("click", () => {
    if (state.view === v) return;
    state.view = v;
    save(true);
    search();
  }));
  el("live").addEventListener("change", () => { state.live = el("live").checked; save(false); restartLive(); });
  el("zoom-out").addEventListener("click", () => { state.started = ""; state.ended = ""; save(true); search(); });
  window.addEventListener("popstate", () => { state = readState(); search(); });
  if (window.matchMedia("(max-width: 768px)").matches) { el("filters-box").open = false; el("facets-box").open = false; }
  search();
})();
