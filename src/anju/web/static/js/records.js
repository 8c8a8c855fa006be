// Records look-up: exact search through the records API (ID numbers, plates and phones by their blind
// index, the device field as text), records shown masked as the API gives them; "显示" reveals one record
// through `?unmask=true`, which the API allows only with records:unmask and audits.
"use strict";
(function () {
  const A = window.Anju;
  const t = A.t;
  const config = JSON.parse(document.getElementById("records-config").textContent);
  const types = new Map(config.types.map(function (x) { return [x.slug, x]; }));
  const LIMIT = 200;
  // The time range is on the record's own event time (the type's time field): the API's event_from /
  // event_to, not `since`, which is when Anju received the record.
  const $ = function (id) { return document.getElementById(id); };

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function ([k, v]) {
      if (k === "text") node.textContent = v; else if (v !== null && v !== undefined) node.setAttribute(k, v);
    });
    (children || []).forEach(function (c) { if (c !== null && c !== undefined) node.append(c); });
    return node;
  }

  function current() { return types.get($("rec-type").value); }

  function fillFields() {
    const rt = current();
    const select = $("rec-field");
    const options = rt.search.map(function (f) { return el("option", { value: f.code, text: f.name + " (" + f.code + ")" }); });
    options.unshift(el("option", { value: "", text: t("records_any") }));
    select.replaceChildren.apply(select, options);
    if (rt.search.length) select.value = rt.search[0].code;
    const device = $("rec-device");
    device.disabled = !rt.device;
    $("rec-device-label").textContent = rt.device ? rt.device_name + " (" + rt.device + ")" : t("records_device");
    if (!rt.device) device.value = "";
  }

  // "2026-11-01T08:30" (datetime-local) -> "2026-11-01 08:30:00", the standard's local form.
  function local(value) { return value ? value.replace("T", " ") + (value.length === 16 ? ":00" : "") : ""; }

  function columns(rt) {
    const cols = ["ID"];
    if (rt.time) cols.push(rt.time);
    if (rt.device) cols.push(rt.device);
    rt.search.forEach(function (f) { cols.push(f.code); });
    return cols;
  }

  function cellText(v) { return v === null || v === undefined || v === "" ? "—" : String(v); }

  function detail(rt, rec) {
    const dl = el("dl", { class: "record-fields" });
    Object.keys(rt.fields).forEach(function (code) {
      const v = rec[code];
      if (v === null || v === undefined || v === "") return;
      dl.append(el("dt", { text: rt.fields[code] + " " + code }), el("dd", { "data-field": code, text: String(v).slice(0, 300) }));
    });
    return el("details", {}, [el("summary", { text: t("records_all_fields") }), dl]);
  }

  function row(rt, rec) {
    const tr = el("tr", { "data-id": rec.ID });
    columns(rt).forEach(function (code) {
      tr.append(el("td", { "data-field": code, class: rt.personal.indexOf(code) >= 0 ? "personal" : null, text: cellText(rec[code]) }));
    });
    const actions = el("td", {}, [detail(rt, rec)]);
    if (config.canUnmask) {
      const b = el("button", { type: "button", class: "small reveal", text: t("records_show") });
      b.addEventListener("click", function () { reveal(rt, rec.ID, tr, b); });
      actions.prepend(b);
    }
    tr.append(actions);
    return tr;
  }

  async function reveal(rt, id, tr, button) {
    button.disabled = true;
    try {
      const data = await A.api("GET", "/api/v1/records/" + rt.slug + "/" + encodeURIComponent(id) + "?unmask=true");
      tr.querySelectorAll("[data-field]").forEach(function (node) {
        const v = data.record[node.dataset.field];
        node.textContent = node.tagName === "DD" ? String(v === null || v === undefined ? "" : v).slice(0, 300) : cellText(v);
      });
      tr.classList.add("revealed");
      button.textContent = t("records_shown");
    } catch (e) {
      showError(e.message);
      button.disabled = false;
    }
  }

  function showError(message) { const m = $("rec-error"); m.textContent = message; m.hidden = !message; }

  async function search(event) {
    if (event) event.preventDefault();
    showError("");
    const rt = current();
    const f = Object.fromEntries(new FormData($("search")).entries());
    const q = new URLSearchParams({ limit: String(LIMIT) });
    const value = (f.value || "").trim();
    if (value) {
      if (!f.field) { showError(t("records_pick_field")); return; }
      q.set(f.field, value);
    }
    if (rt.device && (f.device || "").trim()) q.set(rt.device, f.device.trim());
    if (rt.time && f.from) q.set("event_from", local(f.from).replace(" ", "T"));
    if (rt.time && f.to) q.set("event_to", local(f.to).replace(" ", "T"));
    const button = $("rec-search");
    button.disabled = true;
    try {
      const data = await A.api("GET", "/api/v1/records/" + rt.slug + "?" + q.toString());
      const shown = data.records;
      const head = $("rec-head");
      head.replaceChildren.apply(head, columns(rt).map(function (code) {
        return el("th", { text: code === "ID" ? "ID" : rt.fields[code] });
      }).concat([el("th", { text: "" })]));
      const body = $("rec-rows");
      body.replaceChildren.apply(body, shown.map(function (rec) { return row(rt, rec); }));
      $("rec-table").hidden = shown.length === 0;
      $("rec-summary").textContent = shown.length
        ? t("records_found").replace("{n}", String(shown.length)) + (data.records.length >= LIMIT ? " " + t("records_more") : "") + " · " + t("records_masked")
        : t("records_nothing");
    } catch (e) {
      showError(e.message);
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("rec-type").addEventListener("change", fillFields);
    $("search").addEventListener("submit", search);
    fillFields();
  });
})();
