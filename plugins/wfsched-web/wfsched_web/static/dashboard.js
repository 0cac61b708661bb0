// wfsched web: keeps the pages live by polling the JSON API. Every text from the server is
// put in with textContent, never innerHTML, so a workflow's output can only ever be text.
"use strict";

const ACTIVE = ["pending", "running", "waiting"];  // waiting: for an approval

function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children || []) node.append(child);
  return node;
}

function when(iso) {
  return iso ? iso.replace("T", " ").slice(0, 19) : "—";
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  if (seconds < 10) return seconds.toFixed(2) + " s";
  if (seconds < 60) return seconds.toFixed(1) + " s";
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return minutes + "m " + String(Math.floor(seconds % 60)).padStart(2, "0") + "s";
  return Math.floor(minutes / 60) + "h " + String(minutes % 60).padStart(2, "0") + "m";
}

function badge(status) {
  return el("span", {class: "badge s-" + status.replace(/ /g, "-"), text: status});
}

function csrf() {
  return document.querySelector('meta[name="csrf"]').content;
}

function canAct() {
  return document.body.dataset.canAct === "1";
}

async function getJSON(url) {
  const response = await fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}});
  if (!response.ok) throw new Error(url + " answered " + response.status);
  return response.json();
}

// Cancel while pending or running, Retry once failed or cancelled, Re-run once completed;
// each leads to the server's confirmation page.
function actionLabel(status) {
  if (ACTIVE.includes(status)) return "Cancel";
  return ["failed", "cancelled"].includes(status) ? "Retry" : "Re-run";
}

function actionForm(e, next) {
  const action = ACTIVE.includes(e.status) ? "cancel" : "rerun";
  return el("form", {method: "post", action: "/executions/" + e.id + "/" + action, class: "inline"}, [
    el("input", {type: "hidden", name: "csrf", value: csrf()}),
    el("input", {type: "hidden", name: "next", value: next}),
    el("button", {type: "submit", class: (action === "cancel" ? "danger " : "") + "small",
                  text: actionLabel(e.status)}),
  ]);
}

// --- the executions page ------------------------------------------------------------

// a pending execution held back (a limit, admission) says why instead of "—"
function startedText(e) {
  if (!e.started_at && e.wait_reason) return "waiting: " + e.wait_reason;
  return when(e.started_at);
}

function executionRow(e) {
  const params = Object.entries(e.params || {}).map(([k, v]) => k + "=" + v).join(" ");
  const here = location.pathname + location.search;
  const actions = el("td", {class: "actions"});
  if (canAct()) actions.append(actionForm(e, here));
  const workflow = el("td", {class: "workflow", text: e.workflow});
  if (e.error_line && ["failed", "cancelled"].includes(e.status)) {
    workflow.append(el("div", {class: "error-line small", title: e.error_line, text: e.error_line}));
  }
  return el("tr", {"data-id": e.id, "data-status": e.status}, [
    el("td", {class: "num"}, [el("a", {href: "/executions/" + e.id, text: String(e.id)})]),
    workflow,
    el("td", {}, [badge(e.status)]),
    el("td", {class: "num opt", text: String(e.attempt)}),
    el("td", {class: "opt", text: e.host || "—"}),
    el("td", {class: "num opt", text: e.pid ? String(e.pid) : "—"}),
    el("td", {class: "nowrap", text: startedText(e)}),
    el("td", {class: "num nowrap", text: duration(e.duration)}),
    el("td", {class: "params small", text: params}),
    actions,
  ]);
}

function startExecutionsPage() {
  const table = document.querySelector("#executions tbody");
  const live = document.getElementById("live");
  const updated = document.getElementById("updated");
  const empty = document.getElementById("no-rows");
  const filters = document.getElementById("filters");
  const offset = document.getElementById("offset");
  const shown = document.getElementById("shown");
  const total = document.getElementById("total");
  // The list as the page was loaded: a changed filter that was not searched yet must not
  // change what the live refresh shows under the old "N of M".
  const query = new URLSearchParams(location.search);
  for (const [key, value] of [...query.entries()]) if (!value) query.delete(key);
  filters.addEventListener("submit", () => { offset.value = "0"; });
  for (const select of filters.querySelectorAll("select")) {
    select.addEventListener("change", () => filters.requestSubmit());
  }
  async function refresh() {
    if (document.hidden) return;
    try {
      const response = await fetch("/api/executions?" + query.toString(),
                                   {credentials: "same-origin", headers: {Accept: "application/json"}});
      if (!response.ok) throw new Error("answered " + response.status);
      const rows = await response.json();
      // Keep a row whose button has focus: replacing it would swallow the click.
      if (table.contains(document.activeElement)) return;
      table.replaceChildren(...rows.map(executionRow));
      const count = Number(response.headers.get("X-Total-Count") || rows.length);
      const first = Number(query.get("offset") || 0) + 1;
      total.textContent = String(count);
      shown.textContent = rows.length ? first + "–" + (first + rows.length - 1) + " of " + count
                                      : "0 of " + count;
      empty.hidden = rows.length > 0;
      live.classList.remove("stale");
      updated.textContent = "live · " + new Date().toISOString().slice(11, 19) + " UTC";
    } catch (err) {
      live.classList.add("stale");
      updated.textContent = "disconnected";
    }
  }
  setInterval(refresh, 1500);
}

// --- one execution ------------------------------------------------------------------

function startExecutionPage() {
  const head = document.getElementById("execution");
  const id = head.dataset.id;
  const log = document.getElementById("log");
  let offset = Number(head.dataset.logOffset);
  let status = head.dataset.status;
  let lastRead = !ACTIVE.includes(status);

  function renderSteps(steps) {
    const body = document.querySelector("#steps tbody");
    if (!steps.length) return;
    body.replaceChildren(...steps.map((s) => el("tr", {
      "data-step": s.name, "data-status": s.status, class: s.started_at ? null : "not-started",
    }, [
      el("td", {class: "num", text: String(s.position)}),
      el("td", {text: s.name}),
      el("td", {}, [badge(s.status)]),
      el("td", {class: "nowrap", text: when(s.started_at)}),
      el("td", {class: "num", text: duration(s.duration)}),
      el("td", {class: "error small", text: s.error || ""}),
    ])));
  }

  function renderExecution(e) {
    const statusBadge = document.getElementById("status");
    statusBadge.className = "badge big s-" + e.status;
    statusBadge.textContent = e.status;
    document.getElementById("started").textContent = when(e.started_at);
    document.getElementById("finished").textContent = when(e.finished_at);
    document.getElementById("duration").textContent = duration(e.duration);
    document.getElementById("where").textContent = (e.host || "—") + " / " + (e.pid || "—");
    document.getElementById("spawner").textContent = e.spawner || "—";
    document.getElementById("claimed-by").textContent = e.claimed_by || "—";
    document.getElementById("heartbeat").textContent = when(e.heartbeat_at);
    document.getElementById("waiting-box").hidden = !e.wait_reason;
    document.getElementById("waiting").textContent = e.wait_reason || "";
    document.getElementById("exit-code").textContent = e.exit_code ?? "—";
    document.getElementById("error-box").hidden = !e.error;
    document.getElementById("error").textContent = e.error || "";
    const traceback = document.getElementById("traceback");
    traceback.hidden = !e.error_detail;
    traceback.textContent = e.error_detail || "";
    renderSteps(e.steps);
    const cancel = document.getElementById("cancel-form");
    const rerun = document.getElementById("rerun-form");
    if (cancel) cancel.hidden = !ACTIVE.includes(e.status);
    if (rerun) {
      rerun.hidden = ACTIVE.includes(e.status);
      document.getElementById("rerun-button").textContent = actionLabel(e.status);
    }
  }

  async function follow() {
    try {
      if (ACTIVE.includes(status)) {
        const e = await getJSON("/api/executions/" + id);
        status = e.status;
        renderExecution(e);
      }
      const chunk = await getJSON("/api/executions/" + id + "/log?offset=" + offset);
      if (chunk.text) {
        const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 20;
        log.append(document.createTextNode(chunk.text));
        if (atBottom) log.scrollTop = log.scrollHeight;
      }
      offset = chunk.next_offset;
      if (!ACTIVE.includes(status)) {
        if (lastRead && chunk.next_offset >= chunk.size) {
          document.getElementById("log-state").textContent = "";
          return;  // finished and read to the end
        }
        lastRead = true;
      }
    } catch (err) {
      document.getElementById("log-state").textContent = "disconnected; retrying";
    }
    setTimeout(follow, 1000);
  }
  log.scrollTop = log.scrollHeight;
  if (ACTIVE.includes(status)) setTimeout(follow, 1000);
}

// --- the timeline -------------------------------------------------------------------

function startTimelinePage() {
  const box = document.getElementById("timeline");
  async function refresh() {
    if (document.hidden) return;
    try {
      const response = await fetch("/timeline.svg", {credentials: "same-origin"});
      if (!response.ok) return;
      const doc = new DOMParser().parseFromString(await response.text(), "image/svg+xml");
      const svg = doc.documentElement;
      if (svg.nodeName === "svg") box.replaceChildren(document.importNode(svg, true));
    } catch (err) { /* keep the last picture */ }
  }
  setInterval(refresh, 3000);
}

// --- the grid and the schedulers: the page itself, fetched again -----------------------

function refreshFragment(id, seconds) {
  async function refresh() {
    if (document.hidden) return;
    const live = document.getElementById("live");
    try {
      const response = await fetch(location.pathname + location.search, {credentials: "same-origin"});
      if (!response.ok) throw new Error("answered " + response.status);
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = doc.getElementById(id);
      const box = document.getElementById(id);
      if (fresh && box && !box.contains(document.activeElement)) box.replaceWith(document.importNode(fresh, true));
      if (live) live.classList.remove("stale");
    } catch (err) {
      if (live) live.classList.add("stale");
    }
  }
  setInterval(refresh, seconds * 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "executions" && document.getElementById("executions")) startExecutionsPage();
  if (page === "executions" && document.getElementById("execution")) startExecutionPage();
  if (page === "timeline") startTimelinePage();
  if (document.getElementById("grid-box")) refreshFragment("grid-box", 3);
  if (page === "schedulers") refreshFragment("schedulers-box", 3);
});
