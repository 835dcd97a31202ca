// The administrator page: plain JavaScript over /admin/api/* (thresholds here; the
// outcomes and explain tabs in admin_outcomes.js and admin_explain.js use MCAS below).
// The token lives in sessionStorage and travels only in the Authorization header.
"use strict";

const API = "/admin/api/thresholds";
const TOKEN_KEY = "mcasAdminToken";
let active = null;      // GET /admin/api/thresholds
let previewed = null;   // JSON of the values last previewed successfully
let rollingBack = null; // {number, proposed_version} of the rollback being previewed

const $ = (id) => document.getElementById(id);
const inputs = () => Array.from(document.querySelectorAll("[data-path]"));

function say(text, isError) {
  const box = $("status");
  box.textContent = text;
  box.className = isError ? "error-box" : "ok-box";
}

// Any administrator route, with the token (and the name typed, for the audit lines).
async function call(url, options) {
  const headers = { "Authorization": "Bearer " + sessionStorage.getItem(TOKEN_KEY) };
  const name = $("author") ? $("author").value.trim() : "";
  if (name) headers["X-Admin-Name"] = name;
  if (options && options.body) headers["Content-Type"] = "application/json";
  const response = await fetch(url, Object.assign({ headers }, options || {}));
  if (response.status === 401) {
    signOut();
    throw new Error("The administrator token was refused. Sign in again.");
  }
  return response;
}

async function api(path, options) {
  return call(API + path, options);
}

// A time for people: local, with the UTC instant on hover.
function when(iso) {
  const node = document.createElement("time");
  node.dateTime = iso;
  const moment = new Date(iso);
  node.textContent = Number.isNaN(moment.getTime()) ? iso : moment.toLocaleString(undefined,
    { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  node.title = "UTC: " + iso.replace("T", " ").replace(/\.\d+/, "");
  return node;
}

function versionText(stored) {
  return "version " + stored.number + ", applied by " + stored.author + " on ";
}

function diagnostics(outcome) {
  return (outcome.issue || []).map((i) => i.diagnostics).join(" ");
}

function setPath(target, path, value) {
  const parts = path.split(".");
  let node = target;
  parts.slice(0, -1).forEach((part, i) => {
    const nextIsIndex = /^\d+$/.test(parts[i + 1]);
    if (node[part] === undefined) node[part] = nextIsIndex ? [] : {};
    node = node[part];
  });
  const last = parts[parts.length - 1];
  node[/^\d+$/.test(last) ? Number(last) : last] = value;
}

function readValue(input) {
  const kind = input.dataset.kind;
  if (kind === "bool") return input.checked;
  const text = input.value.trim();
  if (text === "") return null;
  const number = Number(text);
  return Number.isNaN(number) ? text : number;
}

function proposal() {
  const values = {};
  inputs().forEach((input) => setPath(values, input.dataset.path, readValue(input)));
  return values;
}

function show(value) {
  if (value === null || value === undefined) return "(none)";
  if (value === true) return "on";
  if (value === false) return "off";
  return String(value);
}

function fill(data) {
  active = data;
  $("active-version").textContent = data.version;
  const detail = $("active-detail");
  detail.replaceChildren();
  if (data.source === "database") {
    $("active-source").textContent = versionText(data.stored);
    detail.appendChild(when(data.stored.created_at));
  } else {
    $("active-source").textContent = "the thresholds file";
  }
  $("refresh-seconds").textContent = data.refresh_seconds;
  const notes = [];
  if (data.stored && data.stored.upgrade) notes.push(data.stored.upgrade.note);
  if (data.stored_unusable) {
    notes.push("Stored version " + data.stored_unusable.number + " is not valid for this " +
      "release, so the thresholds file is in force: " + data.stored_unusable.problem);
  }
  $("upgrade-note").textContent = notes.join(" ");
  $("upgrade-note").hidden = notes.length === 0;
  $("file-mode").hidden = data.mode !== "file";
  data.fields.forEach((field) => {
    const input = $("f-" + field.field);
    if (field.kind === "bool") input.checked = field.value === true;
    else input.value = field.value === null ? "" : String(field.value);
    $("w-" + field.field).textContent = show(field.value);
  });
  clearErrors();
  showWarnings(data.warnings);
  invalidatePreview();
  markChanged();
}

// Rows whose value differs from the active version are marked (colour and text).
function markChanged() {
  if (!active) return;
  active.fields.forEach((field) => {
    const input = $("f-" + field.field);
    const changed = readValue(input) !== field.value;
    input.closest("tr").classList.toggle("changed", changed);
    $("w-" + field.field).textContent = show(field.value) + (changed ? " (changed)" : "");
  });
}

function clearErrors() {
  document.querySelectorAll("#tab-thresholds .error").forEach((node) => {
    node.textContent = "";
  });
  inputs().forEach((input) => input.removeAttribute("aria-invalid"));
  ["author", "reason", "rollback-author", "rollback-reason"].forEach((id) => {
    $(id).removeAttribute("aria-invalid");
  });
}

// An error on the name or the reason goes next to that field, not only to the status line.
function fieldError(id, text) {
  $("e-" + id).textContent = text;
  $(id).setAttribute("aria-invalid", "true");
  $(id).focus();
}

// The OperationOutcome's issues next to the fields they name (expression), else the status.
function outcomeErrors(outcome, prefix) {
  const placed = [];
  (outcome.issue || []).forEach((issue) => {
    (issue.expression || []).forEach((field) => {
      const id = (prefix || "") + field;
      if ($("e-" + id) && $(id)) { fieldError(id, issue.diagnostics); placed.push(field); }
      else if ($("e-" + field)) {
        $("e-" + field).textContent = issue.diagnostics;
        const input = $("f-" + field);
        if (input) input.setAttribute("aria-invalid", "true");
        placed.push(field);
      }
    });
  });
  return placed;
}

function showErrors(errors) {
  clearErrors();
  errors.forEach((error) => {
    // An error on a group ("min_trial_days") lands on its first field.
    const input = $("f-" + error.field) ||
      inputs().find((i) => i.dataset.path.startsWith(error.field + "."));
    const slot = input ? $("e-" + input.dataset.path) : $("e-values");
    if (input) input.setAttribute("aria-invalid", "true");
    slot.textContent = (slot.textContent ? slot.textContent + " " : "") +
      error.field + ": " + error.message;
  });
  const first = document.querySelector("[aria-invalid=true]");
  if (first) first.focus();
}

// Accepted but unusual values (outside the warn bounds, or 0): shown next to the field.
function showWarnings(warnings) {
  document.querySelectorAll(".warning").forEach((node) => { node.textContent = ""; });
  (warnings || []).forEach((warning) => {
    const slot = $("x-" + warning.field);
    if (slot) slot.textContent = "Check: " + warning.message;
  });
}

function invalidatePreview() {
  previewed = null;
  $("apply-button").disabled = true;
}

// Warning cards the proposal switches off: one checkbox each, next to the apply button.
function showConfirmations(needed) {
  const list = $("confirm-list");
  list.replaceChildren();
  (needed || []).forEach((item) => {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = item.topic;
    box.className = "confirm-off";
    label.appendChild(box);
    label.append(" Switch off \u201c" + item.title + "\u201d (" + item.topic + ")");
    list.appendChild(label);
    const slot = $("x-" + item.field);
    if (slot) slot.textContent = "A warning card: confirm below to switch it off.";
  });
  $("confirm-box").hidden = !(needed && needed.length);
}

function confirmedOff() {
  return Array.from(document.querySelectorAll(".confirm-off:checked")).map((b) => b.value);
}

async function load() {
  const response = await api("");
  if (!response.ok) throw new Error(diagnostics(await response.json()));
  fill(await response.json());
  $("login").hidden = true;
  $("signed-in").hidden = false;
  await loadHistory();
}

async function checkAndPreview(event) {
  event.preventDefault();
  const values = proposal();
  say("Checking…");
  const checked = await (await api("/validate", {
    method: "POST", body: JSON.stringify({ values }) })).json();
  showWarnings(checked.warnings);
  if (!checked.valid) {
    showErrors(checked.errors);
    invalidatePreview();
    say("The proposal is not valid: " + checked.errors.length + " problem(s), shown next to the fields.", true);
    return;
  }
  clearErrors();
  showConfirmations(checked.needs_confirmation);
  if (checked.changes.length === 0) {
    invalidatePreview();
    $("preview").hidden = true;
    say("Nothing differs from the active version.");
    return;
  }
  say("Valid. Running the scenarios under the active and the proposed values…");
  const response = await api("/preview", { method: "POST", body: JSON.stringify({ values }) });
  const result = await response.json();
  if (!response.ok) { say(diagnostics(result), true); return; }
  showWarnings(result.warnings);
  renderPreview(result, checked.changes, "Proposal");
  rollingBack = null;
  $("rollback-confirm").hidden = true;
  previewed = JSON.stringify(values);
  $("apply-button").disabled = active.mode === "file";
  say("Preview ready: " + result.scenarios_changed + " of " + result.scenarios_run +
      " scenarios change" + (result.warnings.length ? "; " + result.warnings.length +
      " unusual value(s), shown next to the fields" : "") + ". Review it, then apply.");
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text;
  row.appendChild(td);
  return td;
}

// The appearing and disappearing cards as clinicians would see them. The HTML comes from
// the service's card renderer (service/cards_html/render.py), which escapes all card text;
// the page's CSP runs no inline script or style in it anyway.
function cardsRow(scenario) {
  const drawn = (scenario.appear_cards || []).map((card) => ["appear", card])
    .concat((scenario.disappear_cards || []).map((card) => ["disappear", card]));
  if (drawn.length === 0) return null;
  const row = document.createElement("tr");
  row.className = "preview-cards";
  const td = document.createElement("td");
  td.colSpan = 3;
  const details = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = "The card" + (drawn.length > 1 ? "s" : "") + " of " + scenario.name +
    " as clinicians see " + (drawn.length > 1 ? "them" : "it");
  details.appendChild(summary);
  drawn.forEach(([kind, card]) => {
    const caption = document.createElement("p");
    caption.className = "card-caption " + kind;
    caption.textContent = (kind === "appear" ? "Appears under the proposal: "
      : "Disappears (as shown now): ") + card.topic;
    details.appendChild(caption);
    const template = document.createElement("template");
    template.innerHTML = card.html;
    details.appendChild(template.content);
  });
  td.appendChild(details);
  row.appendChild(td);
  return row;
}

function renderPreview(result, changes, what) {
  const changed = changes.map((c) => c.field + " " + show(c.old) + " → " + show(c.new)).join("; ");
  $("preview-summary").textContent = what + ": " + (changed || "no value differs") + ". " +
    result.scenarios_changed + " of " + result.scenarios_run + " scenarios change (" +
    result.cards_appearing + " card(s) appear, " + result.cards_disappearing + " disappear)." +
    (result.failed.length ? " Answered with an error: " +
      result.failed.map((f) => f.name + " (" + f.current + ")").join(", ") + "." : "") +
    (result.problems.length ? " Skipped: " + result.problems.join("; ") : "");
  const topics = document.querySelector("#preview-topics tbody");
  topics.replaceChildren();
  (result.topics || []).forEach((t) => {
    const row = document.createElement("tr");
    const name = document.createElement("th");
    name.scope = "row";
    name.textContent = t.topic;
    row.appendChild(name);
    cell(row, String(t.current));
    cell(row, String(t.proposed) + (t.proposed > t.current ? " (more)"
      : t.proposed < t.current ? " (fewer)" : ""));
    if (t.proposed !== t.current) row.className = "changed";
    topics.appendChild(row);
  });
  const body = document.querySelector("#preview-table tbody");
  body.replaceChildren();
  result.changed.forEach((scenario) => {
    const row = document.createElement("tr");
    const name = document.createElement("th");
    name.scope = "row";
    // What the scenario means first; its file name small, for whoever maintains it.
    const meaning = document.createElement("span");
    meaning.textContent = scenario.description || scenario.name;
    const file = document.createElement("code");
    file.className = "scenario-file";
    file.textContent = scenario.name + (scenario.source === "saved" ? " (saved request)" : "");
    name.append(meaning, document.createElement("br"), file);
    row.appendChild(name);
    cell(row, scenario.appear.join(", ") || "—").className = "appear";
    cell(row, scenario.disappear.join(", ") || "—").className = "disappear";
    body.appendChild(row);
    const drawn = cardsRow(scenario);
    if (drawn) body.appendChild(drawn);
  });
  $("preview").hidden = false;
}

async function applyChange() {
  const values = proposal();
  if (JSON.stringify(values) !== previewed) {
    say("The values changed since the preview: check and preview again.", true);
    invalidatePreview();
    return;
  }
  clearErrors();
  if (!$("author").value.trim()) { fieldError("author", "Your name is recorded with the change."); say("Your name is missing (next to its field).", true); return; }
  if (!$("reason").value.trim()) { fieldError("reason", "Say why: the reason is recorded with the change."); say("The reason is missing (next to its field).", true); return; }
  const body = { values, base_version: active.version,
    author: $("author").value, reason: $("reason").value,
    confirm_switch_off: confirmedOff() };
  const response = await api("/apply", { method: "POST", body: JSON.stringify(body) });
  const result = await response.json();
  if (!response.ok) {
    const placed = outcomeErrors(result);
    if (placed.some((f) => f.startsWith("cards_enabled."))) {
      $("e-confirm").textContent = "Tick each warning card you mean to switch off.";
    }
    say(diagnostics(result), true);
    return;
  }
  $("reason").value = "";
  $("preview").hidden = true;
  showConfirmations([]);
  await load();
  say("Applied: version " + result.number + " is active.");
}

async function loadHistory() {
  const response = await api("/history");
  const data = await response.json();
  const body = document.querySelector("#history-table tbody");
  body.replaceChildren();
  data.versions.forEach((version) => {
    const row = document.createElement("tr");
    const head = document.createElement("th");
    head.scope = "row";
    head.textContent = "version " + version.number + (version.active ? " (active)" : "");
    row.appendChild(head);
    cell(row, "").appendChild(when(version.created_at));
    cell(row, version.author);
    cell(row, version.reason);
    const changes = version.action === "import"
      ? "values of the thresholds file"
      : version.changes.map((c) => c.field + " " + show(c.old) + " → " + show(c.new) +
        (c.confirmed ? " (warning card, switch-off confirmed)" : "")).join("; ");
    cell(row, (version.action === "rollback" ? "rollback to " + version.rollback_of + ": " : "") + changes +
      (version.upgrade ? " " + version.upgrade.note : ""));
    const action = cell(row, "");
    if (!version.active && active.mode !== "file") {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "Preview a rollback to version " + version.number;
      button.addEventListener("click", guarded(() => previewRollback(version.number)));
      action.appendChild(button);
    }
    body.appendChild(row);
  });
}

// A rollback goes through the same preview and confirmation as a change (issue 16).
async function previewRollback(number) {
  say("Running the scenarios under the active values and those of version " + number + "…");
  const response = await api("/rollback/preview", {
    method: "POST", body: JSON.stringify({ to_version: number }) });
  const result = await response.json();
  if (!response.ok) { say(diagnostics(result), true); return; }
  invalidatePreview();
  renderPreview(result, result.changes, "Rollback to version " + number);
  showConfirmations(result.needs_confirmation);
  rollingBack = { number, proposed_version: result.proposed_version };
  $("rollback-title").textContent = "Confirm the rollback to version " + number;
  $("rollback-author").value = $("author").value;
  $("rollback-confirm").hidden = false;
  $("preview").scrollIntoView();
  $("rollback-author").focus();
  say("Preview of the rollback to version " + number + " ready: " + result.scenarios_changed +
      " of " + result.scenarios_run + " scenarios change. Confirm below with your name and reason.");
}

async function rollback() {
  if (!rollingBack) return;
  clearErrors();
  const author = $("rollback-author").value;
  const reason = $("rollback-reason").value;
  if (!author.trim()) { fieldError("rollback-author", "Your name is recorded with the rollback."); say("Your name is missing (next to its field).", true); return; }
  if (!reason.trim()) { fieldError("rollback-reason", "Say why: the reason is recorded with the rollback."); say("The reason is missing (next to its field).", true); return; }
  const number = rollingBack.number;
  const body = { to_version: number, base_version: active.version, author, reason,
    previewed_version: rollingBack.proposed_version, confirm_switch_off: confirmedOff() };
  const response = await api("/rollback", { method: "POST", body: JSON.stringify(body) });
  const result = await response.json();
  if (!response.ok) { outcomeErrors(result, "rollback-"); say(diagnostics(result), true); return; }
  $("rollback-reason").value = "";
  $("rollback-confirm").hidden = true;
  $("preview").hidden = true;
  showConfirmations([]);
  rollingBack = null;
  await load();
  say("Rolled back: version " + result.number + " holds the values of version " + number + ".");
}

async function exportYaml(event) {
  event.preventDefault();
  const response = await api("/export");
  if (!response.ok) { say(diagnostics(await response.json()), true); return; }
  const link = document.createElement("a");
  link.href = URL.createObjectURL(await response.blob());
  link.download = "thresholds.yaml";
  link.click();
  URL.revokeObjectURL(link.href);
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  active = null;
  $("signed-in").hidden = true;
  $("login").hidden = false;
}

function guarded(handler) {
  return (event) => handler(event).catch((error) => say(error.message, true));
}

function showTab(id) {
  document.querySelectorAll(".tab").forEach((tab) => {
    tab.setAttribute("aria-pressed", String(tab.dataset.tab === id));
  });
  document.querySelectorAll(".tab-panel").forEach((panel) => { panel.hidden = panel.id !== id; });
  document.dispatchEvent(new CustomEvent("mcas-tab", { detail: id }));
}

// What the other tabs' scripts use.
window.MCAS = { call, say, cell, when, guarded, diagnostics };

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", guarded(async (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    await load();
    say("Signed in.");
  }));
  $("logout").addEventListener("click", () => { signOut(); say("Signed out."); });
  $("edit-form").addEventListener("submit", guarded(checkAndPreview));
  // Editing a value voids the preview; typing your name or the reason does not.
  $("edit-form").addEventListener("input", (event) => {
    const path = event.target.dataset.path;
    if (!path) return;
    invalidatePreview();
    markChanged();
    // The message was about the old value: clear it until the next check.
    $("e-" + path).textContent = "";
    $("x-" + path).textContent = "";
    event.target.removeAttribute("aria-invalid");
  });
  $("apply-button").addEventListener("click", guarded(applyChange));
  $("rollback-button").addEventListener("click", guarded(rollback));
  $("rollback-cancel").addEventListener("click", () => {
    rollingBack = null;
    $("rollback-confirm").hidden = true;
    $("preview").hidden = true;
    showConfirmations([]);
    say("Rollback cancelled; nothing changed.");
  });
  document.querySelectorAll(".tab").forEach((tab) => {
    tab.addEventListener("click", () => showTab(tab.dataset.tab));
  });
  $("reset-button").addEventListener("click", () => { if (active) fill(active); say("Reset."); });
  $("export-link").addEventListener("click", guarded(exportYaml));
  if (sessionStorage.getItem(TOKEN_KEY)) guarded(load)();
});
