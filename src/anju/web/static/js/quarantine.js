// The quarantine viewer: rejected records with their findings, the raw payload masked, and the replay
// button (POST /api/v1/quarantine/replay) for those who may replay.
"use strict";
(function () {
  const A = window.Anju;
  const t = A.t;
  const config = JSON.parse(document.getElementById("quarantine-config").textContent);
  const $ = function (id) { return document.getElementById(id); };
  let selected = null;

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function ([k, v]) { if (v !== null && v !== undefined) node.setAttribute(k, v); });
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function when(iso) { return iso ? new Date(iso).toLocaleString(config.lang === "zh" ? "zh-CN" : "en-GB", { hour12: false }) : "—"; }
  // A finding's message already names the field and its (masked) value.
  function message(f) { return (config.lang === "zh" ? f.message_zh : f.message_en) || f.code; }
  function reason(r) { return t("reason_" + r) === "reason_" + r ? r : t("reason_" + r); }
  function status(s) { return s === "open" ? t("quarantine_open") : s === "released" ? t("quarantine_released") : s; }

  async function load() {
    const f = Object.fromEntries(new FormData($("q-filters")).entries());
    const q = new URLSearchParams({ status: f.status || "open", limit: "200" });
    if (f.record_type) q.set("record_type", f.record_type);
    const data = await A.api("GET", "/api/v1/quarantine?" + q.toString());
    const body = $("q-rows");
    body.replaceChildren.apply(body, data.entries.map(function (e) {
      const tr = el("tr", { "data-id": String(e.id), class: e.id === selected ? "selected" : null });
      tr.append(el("td", {}, String(e.id)), el("td", {}, config.types[e.record_type] || e.record_type),
        el("td", {}, reason(e.reason)));
      tr.append(el("td", {}, (e.errors || []).slice(0, 2).map(message).join("；") + ((e.errors || []).length > 2 ? " …" : "")));
      tr.append(el("td", { class: "wide" }, when(e.received_at)));
      return tr;
    }));
    $("q-summary").textContent = t("quarantine_total").replace("{n}", String(data.total));
  }

  async function show(id) {
    selected = id;
    const e = await A.api("GET", "/api/v1/quarantine/" + id);
    const panel = $("q-detail");
    const parts = [el("h2", {}, t("quarantine_entry") + " #" + e.id)];
    const dl = el("dl");
    [[t("records_type"), config.types[e.record_type] || e.record_type], ["ID", e.record_id || "—"],
     [t("quarantine_reason"), reason(e.reason)], [t("filter_status"), status(e.status)], [t("filter_estate"), e.estate || "—"],
     [t("quarantine_received"), when(e.received_at)], [t("quarantine_seen"), String(e.seen_count)],
     [t("quarantine_attempts"), String(e.attempts)]].forEach(function (p) { dl.append(el("dt", {}, p[0]), el("dd", {}, p[1])); });
    parts.push(dl, el("h3", {}, t("quarantine_findings")));
    const ul = el("ul", { class: "findings" });
    (e.errors || []).forEach(function (f) { ul.append(el("li", { "data-code": f.code }, message(f))); });
    parts.push(ul, el("h3", {}, t("quarantine_raw")), el("pre", { class: "evidence", id: "q-raw" }, e.raw || ""));
    if (config.canReplay && e.status === "open") {
      const out = el("p", { class: "muted", id: "q-result" });
      const b = el("button", { type: "button", id: "q-replay" }, t("quarantine_replay"));
      b.addEventListener("click", async function () {
        b.disabled = true;
        try {
          const r = await A.api("POST", "/api/v1/quarantine/replay", { ids: [e.id] });
          out.textContent = r.released ? t("quarantine_replayed_ok") : t("quarantine_replayed_still");
          out.dataset.released = String(r.released);
          await load();
        } catch (err) { out.textContent = err.message; b.disabled = false; }
      });
      parts.push(el("div", { class: "actions" }), out);
      parts[parts.length - 2].append(b);
    }
    panel.replaceChildren.apply(panel, parts);
    document.querySelectorAll("#q-rows tr").forEach(function (tr) { tr.classList.toggle("selected", Number(tr.dataset.id) === id); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("q-filters").addEventListener("change", load);
    $("q-rows").addEventListener("click", function (event) {
      const tr = event.target.closest("tr[data-id]");
      if (tr) show(Number(tr.dataset.id));
    });
    load().catch(function (e) { $("q-summary").textContent = e.message; });
  });
})();
