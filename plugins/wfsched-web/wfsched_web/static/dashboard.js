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
  return el("span", {class: "badge s-" + status, text: status});
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

function cancelForm(id, next, extraClass) {
  return el("form", {method: "post", action: "/executions/" + id + "/cancel", class: "inline"}, [
    el("input", {type: "hidden", name: "csrf", value: csrf()}),
    el("input", {type: "hidden", name: "next", value: next}),
    el("button", {type: "submit", class: "danger " + (extraClass || ""), text: "Cancel"}),
  ]);
}

// --- the executions page ------------------------------------------------------------

function executionRow(e) {
  const params = Object.entries(e.params || {}).map(([k, v]) => k + "=" + v).join(" ");
  const here = location.pathname + location.search;
  const actions = el("td", {class: "actions"});
  if (canAct() && ACTIVE.includes(e.status)) actions.append(cancelForm(e.id, here, "small"));
  return el("tr", {"data-id": e.id, "data-status": e.status}, [
    el("td", {class: "num"}, [el("a", {href: "/executions/" + e.id, text: String(e.id)})]),
    el("td", {text: e.workflow}),
    el("td", {}, [badge(e.status)]),
    el("td", {class: "num", text: String(e.attempt)}),
    el("td", {text: e.host || "—"}),
    el("td", {class: "num", text: e.pid ? String(e.pid) : "—"}),
    el("td", {class: "nowrap", text: when(e.started_at)}),
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
  for (const select of filters.querySelectorAll("select")) {
    select.addEventListener("change", () => filters.submit());
  }
  async function refresh() {
    if (document.hidden) return;
    const query = new URLSearchParams(new FormData(filters));
    for (const [key, value] of [...query.entries()]) if (!value) query.delete(key);
    try {
      const rows = await getJSON("/api/executions?" + query.toString());
      // Keep a row whose Cancel button has focus: replacing it would swallow the click.
      if (table.contains(document.activeElement)) return;
      table.replaceChildren(...rows.map(executionRow));
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
    body.replaceChildren(...steps.map((s) => el("tr", {}, [
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
    document.getElementById("exit-code").textContent = e.exit_code ?? "—";
    document.getElementById("error-box").hidden = !e.error;
    document.getElementById("error").textContent = e.error || "";
    const traceback = document.getElementById("traceback");
    traceback.hidden = !e.error_detail;
    traceback.textContent = e.error_detail || "";
    renderSteps(e.steps);
    if (!ACTIVE.includes(e.status)) {
      const form = document.getElementById("cancel-form");
      if (form) form.remove();
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

document.addEventListener("DOMContentLoaded", () => {
  const page = document.body.dataset.page;
  if (page === "executions" && document.getElementById("executions")) startExecutionsPage();
  if (page === "executions" && document.getElementById("execution")) startExecutionPage();
  if (page === "timeline") startTimelinePage();
});
