// The administrator page: plain JavaScript over /admin/api/thresholds.
// The token lives in sessionStorage and travels only in the Authorization header.
"use strict";

const API = "/admin/api/thresholds";
const TOKEN_KEY = "mcasAdminToken";
let active = null;      // GET /admin/api/thresholds
let previewed = null;   // JSON of the values last previewed successfully

const $ = (id) => document.getElementById(id);
const inputs = () => Array.from(document.querySelectorAll("[data-path]"));

function say(text, isError) {
  const box = $("status");
  box.textContent = text;
  box.className = isError ? "error-box" : "ok-box";
}

async function api(path, options) {
  const headers = { "Authorization": "Bearer " + sessionStorage.getItem(TOKEN_KEY) };
  if (options && options.body) headers["Content-Type"] = "application/json";
  const response = await fetch(API + path, Object.assign({ headers }, options || {}));
  if (response.status === 401) {
    signOut();
    throw new Error("The administrator token was refused. Sign in again.");
  }
  return response;
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
  $("active-source").textContent = data.source === "database"
    ? "database (version " + data.stored.number + ")" : "thresholds file";
  $("active-detail").textContent = data.stored
    ? ", applied " + data.stored.created_at + " by " + data.stored.author : "";
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
  document.querySelectorAll(".error").forEach((node) => { node.textContent = ""; });
  inputs().forEach((input) => input.removeAttribute("aria-invalid"));
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
  renderPreview(result, checked.changes);
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

function renderPreview(result, changes) {
  const changed = changes.map((c) => c.field + " " + show(c.old) + " → " + show(c.new)).join("; ");
  $("preview-summary").textContent = "Proposal: " + changed + ". " +
    result.scenarios_changed + " of " + result.scenarios_run + " scenarios change (" +
    result.cards_appearing + " card(s) appear, " + result.cards_disappearing + " disappear)." +
    (result.failed.length ? " Answered with an error: " +
      result.failed.map((f) => f.name + " (" + f.current + ")").join(", ") + "." : "") +
    (result.problems.length ? " Skipped: " + result.problems.join("; ") : "");
  const body = document.querySelector("#preview-table tbody");
  body.replaceChildren();
  result.changed.forEach((scenario) => {
    const row = document.createElement("tr");
    const name = document.createElement("th");
    name.scope = "row";
    name.textContent = scenario.name + (scenario.source === "saved" ? " (saved request)" : "");
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
  const body = { values, base_version: active.version,
    author: $("author").value, reason: $("reason").value };
  const response = await api("/apply", { method: "POST", body: JSON.stringify(body) });
  const result = await response.json();
  if (!response.ok) { say(diagnostics(result), true); return; }
  $("reason").value = "";
  $("preview").hidden = true;
  await load();
  say("Applied: version " + result.version + " is active.");
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
    head.textContent = version.number + (version.active ? " (active)" : "");
    row.appendChild(head);
    cell(row, version.created_at.replace("T", " "));
    cell(row, version.author);
    cell(row, version.reason);
    const changes = version.action === "import"
      ? "values of the thresholds file"
      : version.changes.map((c) => c.field + " " + show(c.old) + " → " + show(c.new)).join("; ");
    cell(row, (version.action === "rollback" ? "rollback to " + version.rollback_of + ": " : "") + changes +
      (version.upgrade ? " " + version.upgrade.note : ""));
    const action = cell(row, "");
    if (!version.active && active.mode !== "file") {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "Roll back to version " + version.number;
      button.addEventListener("click", () => rollback(version.number));
      action.appendChild(button);
    }
    body.appendChild(row);
  });
}

async function rollback(number) {
  const reason = $("rollback-reason").value;
  const author = $("author").value;
  if (!reason.trim() || !author.trim()) {
    say("A rollback needs your name (above) and a reason for the rollback.", true);
    (author.trim() ? $("rollback-reason") : $("author")).focus();
    return;
  }
  const body = { to_version: number, base_version: active.version, author, reason };
  const response = await api("/rollback", { method: "POST", body: JSON.stringify(body) });
  const result = await response.json();
  if (!response.ok) { say(diagnostics(result), true); return; }
  $("rollback-reason").value = "";
  await load();
  say("Rolled back: version " + result.version + " holds the values of version " + number + ".");
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
  $("reset-button").addEventListener("click", () => { if (active) fill(active); say("Reset."); });
  $("export-link").addEventListener("click", guarded(exportYaml));
  if (sessionStorage.getItem(TOKEN_KEY)) guarded(load)();
});
