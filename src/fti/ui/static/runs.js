// Runs table: filter, sort and page through /api/runs; select runs and open the comparison.
"use strict";
(function () {
  const PAGE = 50;
  const state = { offset: 0, order: "", selected: new Set() };
  const form = document.getElementById("run-query");
  const table = document.getElementById("runs");
  const errorBox = document.getElementById("run-error");
  const compareButton = document.getElementById("compare");
  const orderInput = document.getElementById("order-by");

  const params = new URLSearchParams(window.location.search);
  for (const name of ["experiment", "filter", "order_by"]) {
    const input = form.elements[name];
    if (params.has(name)) input.value = params.get(name);
  }
  state.offset = Number(params.get("offset") || 0);

  const COLUMNS_KEY = "fti.runs.columns";
  const DEFAULT_METRICS = 12;
  const DEFAULT_PARAMS = 6;
  const round = new Intl.NumberFormat("en", { maximumSignificantDigits: 4 });
  const expanded = new Set();

  // numbers are rounded for display (the title keeps the exact value)
  function text(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "number") return Number.isInteger(value) ? String(value) : round.format(value);
    return String(value);
  }

  function cell(tag, content, className) {
    const element = document.createElement(tag);
    element.textContent = content;
    if (className) element.className = className;
    return element;
  }

  function chosenColumns() {
    try {
      const saved = JSON.parse(window.localStorage.getItem(COLUMNS_KEY) || "null");
      return Array.isArray(saved) ? saved : null;
    } catch (error) {
      return null;
    }
  }

  // metrics first (what a run is judged by), then params; the user's choice, remembered, wins
  function shownColumns(columns) {
    const first = ["name", "experiment", "status", "start_time"].filter((c) => columns.includes(c));
    const metrics = columns.filter((c) => c.startsWith("metrics."));
    const params = columns.filter((c) => c.startsWith("params."));
    const chosen = chosenColumns();
    if (chosen) return first.concat(metrics.concat(params).filter((c) => chosen.includes(c)));
    return first.concat(metrics.slice(0, DEFAULT_METRICS), params.slice(0, DEFAULT_PARAMS));
  }

  function renderChooser(columns, shown) {
    const list = document.getElementById("column-list");
    const options = columns.filter((c) => c.startsWith("metrics.")).concat(columns.filter((c) => c.startsWith("params.")));
    list.replaceChildren(...options.map((column) => {
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = column;
      box.checked = shown.includes(column);
      box.addEventListener("change", () => {
        const picked = Array.from(list.querySelectorAll("input:checked")).map((input) => input.value);
        window.localStorage.setItem(COLUMNS_KEY, JSON.stringify(picked));
        render(lastData);
      });
      label.append(box, " " + column);
      return label;
    }));
  }

  // tuning trials (runs whose parent is on this page) go under their parent, collapsed
  function nest(items) {
    const onPage = new Set(items.map((item) => item.run_id));
    const children = new Map();
    const top = [];
    for (const item of items) {
      const parent = item.parent_run_id;
      if (parent && onPage.has(parent)) {
        if (!children.has(parent)) children.set(parent, []);
        children.get(parent).push(item);
      } else {
        top.push(item);
      }
    }
    return { top, children };
  }

  let lastData = null;

  function render(data) {
    lastData = data;
    document.getElementById("run-count").textContent = data.total + " matching";
    const columns = shownColumns(data.columns);
    renderChooser(data.columns, columns);
    const head = document.createElement("tr");
    head.appendChild(cell("th", ""));
    const [orderKey, descending] = state.order.startsWith("-") ? [state.order.slice(1), true] : [state.order, false];
    for (const column of columns) {
      const th = cell("th", column.replace(/^(params|metrics)\./, ""));
      th.title = column;
      th.dataset.column = column;
      if (column.startsWith("params.")) th.classList.add("group-params");
      if (column.startsWith("metrics.")) th.classList.add("group-metrics", "num");
      if (column === orderKey) th.classList.add(descending ? "sorted-desc" : "sorted-asc");
      th.addEventListener("click", () => sortBy(column));
      head.appendChild(th);
    }
    table.tHead.replaceChildren(head);
    const { top, children } = nest(data.items);
    const rows = [];
    for (const item of top) {
      const trials = children.get(item.run_id) || [];
      rows.push(runRow(item, columns, trials, false));
      for (const trial of trials) rows.push(runRow(trial, columns, [], true));
    }
    table.tBodies[0].replaceChildren(...rows);
    renderPager(data);
  }

  function runRow(item, columns, trials, isTrial) {
    const row = document.createElement("tr");
    row.dataset.runId = item.run_id;
    if (isTrial) {
      row.dataset.parent = item.parent_run_id;
      row.classList.add("trial");
      row.hidden = !expanded.has(item.parent_run_id);
    }
    const box = document.createElement("input");
    box.type = "checkbox";
    box.className = "select-run";
    box.checked = state.selected.has(item.run_id);
    box.addEventListener("change", () => toggle(item.run_id, box.checked, row));
    const first = document.createElement("td");
    first.appendChild(box);
    row.appendChild(first);
    if (box.checked) row.classList.add("checked");
    for (const column of columns) {
      const value = item[column];
      if (column === "name") {
        const td = document.createElement("td");
        if (trials.length) td.appendChild(expander(item.run_id, trials.length));
        const link = cell("a", value || item.run_id.slice(0, 8));
        link.href = "/runs/" + encodeURIComponent(item.run_id);
        td.appendChild(link);
        row.appendChild(td);
      } else if (column === "start_time") {
        row.appendChild(cell("td", text(value).replace("T", " ").replace("Z", ""), "time"));
      } else {
        const td = cell("td", text(value), column.startsWith("metrics.") ? "num" : "");
        if (typeof value === "number") td.title = String(value);
        row.appendChild(td);
      }
    }
    return row;
  }

  function expander(runId, count) {
    const button = cell("button", (expanded.has(runId) ? "▾ " : "▸ ") + count + " trials", "expand-trials");
    button.type = "button";
    button.addEventListener("click", () => {
      if (expanded.has(runId)) expanded.delete(runId); else expanded.add(runId);
      render(lastData);
    });
    return button;
  }

  function renderPager(data) {
    const pager = document.getElementById("run-pager");
    pager.replaceChildren();
    if (data.total === 0) { pager.textContent = "No run matches."; return; }
    const end = Math.min(data.offset + data.items.length, data.total);
    if (data.offset > 0) pager.appendChild(pageLink("← previous", Math.max(data.offset - PAGE, 0)));
    pager.appendChild(cell("span", (data.offset + 1) + "–" + end + " of " + data.total));
    if (end < data.total) pager.appendChild(pageLink("next →", data.offset + PAGE));
  }

  function pageLink(label, offset) {
    const link = cell("a", label);
    link.href = "#";
    link.addEventListener("click", (event) => { event.preventDefault(); state.offset = offset; load(); });
    return link;
  }

  function toggle(runId, checked, row) {
    if (checked) state.selected.add(runId); else state.selected.delete(runId);
    row.classList.toggle("checked", checked);
    compareButton.disabled = state.selected.size < 2;
    compareButton.textContent = "Compare selected" + (state.selected.size ? " (" + state.selected.size + ")" : "");
  }

  function sortBy(column) {
    state.order = state.order === "-" + column ? column : "-" + column;
    orderInput.value = state.order;
    state.offset = 0;
    load();
  }

  async function load() {
    const query = new URLSearchParams();
    const experiment = form.elements.experiment.value;
    const filter = form.elements.filter.value.trim();
    state.order = orderInput.value.trim();
    if (experiment) query.set("experiment", experiment);
    if (filter) query.set("filter", filter);
    for (const key of state.order.split(",").map((k) => k.trim()).filter(Boolean)) query.append("order_by", key);
    query.set("limit", PAGE);
    query.set("offset", state.offset);
    const shown = new URLSearchParams(query);
    shown.delete("limit");
    shown.delete("order_by");
    if (state.order) shown.set("order_by", state.order);
    window.history.replaceState(null, "", "/runs" + (shown.toString() ? "?" + shown : ""));
    const response = await fetch("/api/runs?" + query, { headers: { Accept: "application/json" } });
    const data = await response.json();
    if (!response.ok) {
      errorBox.textContent = data.detail && typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
      errorBox.hidden = false;
      table.tBodies[0].replaceChildren();
      document.getElementById("run-count").textContent = "";
      document.getElementById("run-pager").replaceChildren();
      return;
    }
    errorBox.hidden = true;
    render(data);
    document.body.dataset.loaded = "true";
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); state.offset = 0; load(); });
  compareButton.addEventListener("click", () => {
    window.location.href = "/runs/compare?ids=" + Array.from(state.selected).map(encodeURIComponent).join(",");
  });
  load();
})();
