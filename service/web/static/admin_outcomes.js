// The outcomes tab: the report as tables, its charts as inline SVG (presentation
// attributes only, so the strict CSP holds), and the CSV download. admin.js's MCAS.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const REPORT = "/admin/api/feedback-report";
  let loaded = false;
  let generation = 0; // a newer "Show" supersedes one still drawing

  function query(extra) {
    const params = new URLSearchParams();
    if ($("o-since").value) params.set("since", $("o-since").value);
    if ($("o-until").value) params.set("until", $("o-until").value);
    if ($("o-topic").value) params.set("topic", $("o-topic").value);
    if ($("o-test").checked) params.set("include_test", "true");
    Object.entries(extra || {}).forEach(([k, v]) => params.set(k, v));
    return params.toString();
  }

  function rate(value) {
    return value === null ? "—" : Math.round(value * 100) + "%";
  }

  function rows(tableId, items, cells) {
    const body = document.querySelector("#" + tableId + " tbody");
    body.replaceChildren();
    items.forEach((item) => {
      const row = document.createElement("tr");
      const values = cells(item);
      const head = document.createElement("th");
      head.scope = "row";
      head.textContent = values[0];
      row.appendChild(head);
      values.slice(1).forEach((v) => MCAS.cell(row, String(v)));
      body.appendChild(row);
    });
    if (!items.length) {
      const row = document.createElement("tr");
      MCAS.cell(row, "No cards and no feedback in this period.").colSpan = 8;
      body.appendChild(row);
    }
  }

  // "about 1,234" when the distinct patients are an estimate (a long period: the report's
  // roll-up merges daily sketches, about 1.6 % off).
  function patients(report, value) {
    return report.patients_estimated ? "about " + value : value;
  }

  function table(captionText, headers, items) {
    const element = document.createElement("table");
    const caption = document.createElement("caption");
    caption.textContent = captionText;
    element.appendChild(caption);
    const head = document.createElement("tr");
    headers.forEach((text) => {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = text;
      head.appendChild(th);
    });
    const thead = document.createElement("thead");
    thead.appendChild(head);
    element.appendChild(thead);
    const body = document.createElement("tbody");
    items.forEach((values) => {
      const row = document.createElement("tr");
      values.forEach((v) => MCAS.cell(row, String(v)));
      body.appendChild(row);
    });
    element.appendChild(body);
    return element;
  }

  function reasonsText(row) {
    const parts = row.override_reasons.map((r) => (r.display || r.code) + " (" + r.count + ")");
    if (row.overridden_without_reason) parts.push("no reason given (" + row.overridden_without_reason + ")");
    return parts.join("; ") || "—";
  }

  async function svgInto(container, url) {
    const response = await MCAS.call(url);
    if (!response.ok) {
      container.textContent = MCAS.diagnostics(await response.json());
      return;
    }
    const parsed = new DOMParser().parseFromString(await response.text(), "image/svg+xml");
    container.replaceChildren(document.importNode(parsed.documentElement, true));
  }

  async function show(event) {
    if (event) event.preventDefault();
    const mine = ++generation;
    MCAS.say("Counting…");
    const response = await MCAS.call(REPORT + "?" + query());
    const report = await response.json();
    if (mine !== generation) return;
    if (!response.ok) { MCAS.say(MCAS.diagnostics(report), true); return; }
    $("o-period").textContent = "From " + report.since.slice(0, 10) + " until " +
      report.until.slice(0, 10) + " (UTC)" + (report.include_test
        ? ", test traffic included." : ", test traffic left out.");
    rows("o-topics", report.topics, (r) => [r.topic, r.issued, patients(report, r.patients),
      r.snoozed, r.accepted, r.overridden, rate(r.acceptance_rate), reasonsText(r)]);
    rows("o-services", report.services, (r) => [r.service, r.issued,
      patients(report, r.patients), r.snoozed, r.accepted, r.overridden,
      rate(r.acceptance_rate)]);
    rows("o-versions", report.by_thresholds_version, (r) => [r.topic, r.thresholds_version,
      r.issued, r.accepted, r.overridden, rate(r.acceptance_rate)]);
    rows("o-rules", report.by_rules_version, (r) => [r.topic, r.rules_version, r.issued,
      r.snoozed, r.accepted, r.overridden, rate(r.acceptance_rate)]);
    await svgInto($("o-reasons-chart"), "/admin/api/outcomes/reasons.svg?" + query());
    if (mine !== generation) return;
    const weekly = $("o-weekly");
    weekly.replaceChildren();
    const topics = report.topics.filter((t) => t.issued || t.accepted || t.overridden)
      .map((t) => t.topic).filter((t) => t !== "unknown");
    for (const topic of topics) {
      const box = document.createElement("div");
      box.className = "chart";
      box.dataset.topic = topic;
      weekly.appendChild(box);
      await svgInto(box, "/admin/api/outcomes/weekly.svg?" + query({ topic }));
      if (mine !== generation) return;
      weekly.appendChild(table(topic + " per week (the chart's numbers)",
        ["Week from", "Issued", "Accepted", "Overridden"],
        report.weekly.filter((w) => w.topic === topic)
          .map((w) => [w.week, w.issued, w.accepted, w.overridden])));
      // The chart's markers, as the chart draws them.
      const markers = report.thresholds_changes.map((c) => [c.created_at.slice(0, 10),
        "thresholds version " + c.number + " (" + c.action + ")", "dashed line"])
        .concat(report.by_rules_version.filter((r) => r.topic === topic &&
          r.rules_version !== "unknown" && r.first_issued)
          .map((r) => [r.first_issued, "rules version " + r.rules_version + " first issued",
            "dash-dot line"]));
      if (markers.length) {
        weekly.appendChild(table(topic + ": the chart's markers",
          ["Day (UTC)", "Marker", "Drawn as"], markers));
      }
    }
    loaded = true;
    MCAS.say("Outcomes shown: " + report.topics.length + " topic(s).");
  }

  async function downloadCsv() {
    const response = await MCAS.call(REPORT + "?" + query({ format: "csv" }));
    if (!response.ok) { MCAS.say(MCAS.diagnostics(await response.json()), true); return; }
    const link = document.createElement("a");
    link.href = URL.createObjectURL(await response.blob());
    link.download = "card-outcomes.csv";
    link.click();
    URL.revokeObjectURL(link.href);
    MCAS.say("CSV downloaded.");
  }

  document.addEventListener("DOMContentLoaded", () => {
    const until = new Date();
    const since = new Date(until.getTime() - 30 * 86400000);
    $("o-until").value = new Date(until.getTime() + 86400000).toISOString().slice(0, 10);
    $("o-since").value = since.toISOString().slice(0, 10);
    $("outcomes-form").addEventListener("submit", MCAS.guarded(show));
    $("o-csv").addEventListener("click", MCAS.guarded(downloadCsv));
    document.addEventListener("mcas-tab", (event) => {
      if (event.detail === "tab-outcomes" && !loaded) MCAS.guarded(show)();
    });
  });
})();
