// The device board: counts by status and the device list, both from the devices API.
"use strict";
(function () {
  const A = window.Anju;
  const t = A.t;
  const config = JSON.parse(document.getElementById("devices-config").textContent);
  const PAGE = 100;
  let offset = 0;
  let total = 0;
  const $ = function (id) { return document.getElementById(id); };

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function ([k, v]) { if (v !== null && v !== undefined) node.setAttribute(k, v); });
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function when(iso) {
    return iso ? new Date(/Z|[+-]\d\d:\d\d$/.test(iso) ? iso : iso + "Z").toLocaleString(config.lang === "zh" ? "zh-CN" : "en-GB", { hour12: false }) : "—";
  }
  function filters() { return Object.fromEntries(new FormData($("dev-filters")).entries()); }

  async function counts() {
    const f = filters();
    await Promise.all(config.board.map(async function (s) {
      const q = new URLSearchParams({ status: s, limit: "1" });
      if (f.estate) q.set("estate", f.estate);
      const data = await A.api("GET", "/api/v1/devices?" + q.toString());
      document.querySelector('[data-count="' + s + '"]').textContent = String(data.total);
    }));
  }

  function row(d) {
    const tr = el("tr", { "data-id": d.id, "data-status": d.status });
    tr.append(el("td", {}, d.id), el("td", {}, d.name || "—"), el("td", {}, config.kinds[d.kind] || d.kind));
    const st = el("td");
    st.append(el("span", { class: "tag st-" + d.status }, config.statuses[d.status] || d.status));
    tr.append(st, el("td", { class: "wide" }, d.location || "—"));
    const est = el("td", { class: "wide" });
    est.append(el("a", { href: "/map/" + encodeURIComponent(d.estate) }, config.estates[d.estate] || d.estate));
    tr.append(est, el("td", { class: "wide" }, when(d.last_seen_at)));
    return tr;
  }

  async function list() {
    const f = filters();
    const q = new URLSearchParams({ limit: String(PAGE), offset: String(offset) });
    if (f.estate) q.set("estate", f.estate);
    if (f.status) q.set("status", f.status);
    const data = await A.api("GET", "/api/v1/devices?" + q.toString());
    total = data.total;
    const body = $("dev-rows");
    body.replaceChildren.apply(body, data.devices.map(row));
    $("dev-page").textContent = total ? (offset + 1) + "–" + (offset + data.devices.length) + " / " + total : t("none");
    $("dev-prev").disabled = offset === 0;
    $("dev-next").disabled = offset + PAGE >= total;
  }

  function refresh() {
    $("dev-error").hidden = true;
    Promise.all([counts(), list()]).catch(function (e) { $("dev-error").textContent = e.message; $("dev-error").hidden = false; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("dev-filters").addEventListener("change", function () { offset = 0; refresh(); });
    document.querySelectorAll(".tile[data-status]").forEach(function (b) {
      b.addEventListener("click", function () { $("dev-filters").status.value = b.dataset.status; offset = 0; refresh(); });
    });
    $("dev-prev").addEventListener("click", function () { offset = Math.max(0, offset - PAGE); refresh(); });
    $("dev-next").addEventListener("click", function () { offset += PAGE; refresh(); });
    refresh();
  });
})();
