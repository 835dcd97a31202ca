// The explain tab: pick a scenario or paste a request; the answer as tables.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const EXPLAIN = "/admin/api/explain";
  let fixtures = [];

  async function loadFixtures() {
    if (fixtures.length) return;
    const response = await MCAS.call(EXPLAIN + "/fixtures");
    if (!response.ok) return;
    fixtures = (await response.json()).fixtures;
    const select = $("x-fixture");
    fixtures.forEach((f) => {
      const option = document.createElement("option");
      option.value = f.name;
      option.textContent = f.description.length > 110
        ? f.description.slice(0, 109) + "…" : f.description;
      option.title = f.name;
      select.appendChild(option);
    });
  }

  function row(tableId, values, className) {
    const tr = document.createElement("tr");
    const head = document.createElement("th");
    head.scope = "row";
    head.textContent = values[0];
    tr.appendChild(head);
    values.slice(1).forEach((v) => MCAS.cell(tr, v === null || v === undefined ? "—" : String(v)));
    if (className) tr.className = className;
    document.querySelector("#" + tableId + " tbody").appendChild(tr);
  }

  function day(iso) { return iso ? iso.slice(0, 10) : "undated"; }

  // Units as clinicians write them (as service/web/units.py does for the page).
  function unit(text) {
    return (text || "").replace(/ug\/g\{creat\}/g, "mcg/g creatinine")
      .replace(/\{creat\}/g, " creatinine").replace(/\bug\//g, "mcg/");
  }

  // Order time: a draft order named by its position and id ("draft 2, MedicationRequest/x").
  function draftName(reference, drafts) {
    const found = (drafts || []).find((d) => d.draft === reference);
    return found ? "draft " + found.position + " (" + reference + ")" : reference;
  }

  function renderDrafts(answer) {
    const read = answer.read || {};
    const drafts = read.drafts;
    $("x-drafts").hidden = !drafts;
    $("x-history").hidden = !answer.history;
    if (!drafts) return;
    drafts.forEach((d) => {
      const what = d.judged
        ? [d.ingredients.concat(d.trigger_drugs).join(", "), "route " + d.route,
          d.duration_days === null ? "" : d.duration_days + " days",
          d.other_indication ? "for " + d.other_indication : "",
          d.replacement_therapy ? "replacement therapy" : ""].filter(Boolean).join("; ")
        : d.why;
      row("x-drafts", [String(d.position), d.judged ? d.words : d.draft,
        d.judged ? "yes" : "no", what]);
    });
    const history = answer.history;
    $("x-history").textContent = history.read
      ? "Card history read as the hook reads it (since " + history.since + "): " +
        history.answered_cards + " answered card(s); not twice within " +
        history.order_dedupe_minutes + " minutes; " + (history.snooze_days > 0
          ? "tolerated before for " + history.snooze_days + " days."
          : "no tolerated-before snooze for this patient (a test patient, or switched off).")
      : "Card history not read: " + history.why;
  }

  function render(answer) {
    ["x-decisions", "x-comparisons", "x-read", "x-drafts"].forEach((id) => {
      document.querySelector("#" + id + " tbody").replaceChildren();
    });
    const drafts = (answer.read || {}).drafts;
    const cards = answer.cards.map((c) => c.topic).join(", ") || "no card";
    $("x-summary").textContent = (answer.refused
      ? "The hook would refuse this request (HTTP " + answer.refused.status + "): " +
        answer.refused.reasons.join(" ") + " "
      : "") + "Cards: " + cards + ". Evaluated at " + answer.evaluated_at +
      " with thresholds " + answer.thresholds_version + ".";
    answer.decisions.forEach((d) => {
      const decision = d.shown ? "shown" : d.fired ? "held back" : "not fired";
      row("x-decisions", [d.topic, decision, d.why], d.shown ? "changed" : "");
      // order time: the decision for each draft order the topic's rule judged
      (d.drafts || []).forEach((e) => {
        const state = e.shown ? "shown" : e.held_back ? "held back (" +
          e.held_back.replace("_", " ") + ")" : e.fired ? "fired" : "not fired";
        row("x-decisions", [d.topic + ", " + draftName(e.draft, drafts), state, e.why],
          e.shown ? "changed" : "");
      });
    });
    answer.comparisons.forEach((c) => {
      const about = [c.draft ? draftName(c.draft, drafts) : "", c.detail || ""]
        .filter(Boolean).join(": ");
      row("x-comparisons", [c.rule, c.value === null ? "none" : c.value + " " + unit(c.unit),
        c.op, c.threshold, c.result ? "yes" : "no", about]);
    });
    renderDrafts(answer);
    const read = answer.read || {};
    (read.therapies || []).forEach((t) => row("x-read", ["therapy",
      t.label + " (" + t.class_label + (t.tier ? ", tier " + t.tier : "") + ")", day(t.start),
      "dated by " + t.dated_by]));
    (read.episodes || []).forEach((e) => row("x-read", ["anaphylaxis episode",
      e.records.map((r) => r.label + " (" + r.code + ")").join("; "), day(e.start), e.why]));
    ((read.respiratory || {}).events || []).forEach((e) => row("x-read", ["respiratory event",
      e.records.map((r) => r.label).join("; "), day(e.start),
      e.counted ? "counted" : "not counted"]));
    (read.mediators || []).forEach((m) => row("x-read", ["mediator", m.display +
      (m.normalised ? " (unit normalised from " + m.as_sent.unit + ")" : ""), day(m.date),
      unit(m.reason)]));
    ((read.tryptase || {}).roles || []).forEach((text) => row("x-read", ["tryptase", text, "", ""]));
    const unreadable = read.unreadable || {};
    Object.entries(unreadable.unavailable || {}).forEach(([key, why]) =>
      row("x-read", ["not available", key, "", why]));
    (unreadable.resources || []).forEach((r) => row("x-read", ["unreadable",
      r.count + " " + r.resource_type, "", r.problem.replace("_", " ")]));
    $("x-json").textContent = JSON.stringify(answer, null, 2);
    $("x-result").hidden = false;
  }

  async function explain(event) {
    event.preventDefault();
    $("e-x-request").textContent = "";
    const name = $("x-fixture").value;
    let response;
    if (name) {
      response = await MCAS.call(EXPLAIN + "/fixtures/" + encodeURIComponent(name),
        { method: "POST" });
    } else {
      const text = $("x-request").value.trim();
      try { JSON.parse(text); } catch (error) {
        $("e-x-request").textContent = "Not JSON: " + error.message;
        $("x-request").focus();
        MCAS.say("The request is not JSON (next to its field).", true);
        return;
      }
      response = await MCAS.call(EXPLAIN, { method: "POST", body: text });
    }
    const answer = await response.json();
    if (!response.ok) {
      $("e-x-request").textContent = MCAS.diagnostics(answer);
      MCAS.say(MCAS.diagnostics(answer), true);
      return;
    }
    render(answer);
    MCAS.say("Explained: " + (answer.cards.map((c) => c.topic).join(", ") || "no card") + ".");
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("explain-form").addEventListener("submit", MCAS.guarded(explain));
    $("x-fixture").addEventListener("change", () => {
      const found = fixtures.find((f) => f.name === $("x-fixture").value);
      $("x-fixture-description").textContent = found
        ? found.description + " (expected: " + (found.expected_topics.join(", ") || "no card") + ")"
        : "";
    });
    document.addEventListener("mcas-tab", (event) => {
      if (event.detail === "tab-explain") MCAS.guarded(loadFixtures)();
    });
  });
})();
