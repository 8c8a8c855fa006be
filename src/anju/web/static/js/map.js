// The estate map: the site plan the page carries (boundary, buildings, gates, devices in metres), devices
// as one path per status plus grid clusters per zoom level, open alarms from the alarm API pulsing where
// they are and kept live by the stream, a clicked device read from the device API.
"use strict";
(function () {
  const A = window.Anju;
  const t = A.t;
  const plan = JSON.parse(document.getElementById("map-plan").textContent);
  const D = plan.devices;
  const N = D.id.length;
  const STATUS = plan.status_order; // index -> status
  const RANK = { fault: 3, offline: 2, active: 1, retired: 0 }; // a cluster shows its worst member
  const CELL_PX = 44; // devices closer than this on screen are drawn as one cluster
  const MAX_LEVEL = 5; // zoom 2^5 (a few metres across): every device on its own
  const home = plan.view.slice();
  let view = home.slice();
  let level = 0;
  let basePx = 1; // screen pixels per metre at level 0
  let selected = -1;
  let dragged = false;
  const cache = new Map(); // level -> { singles: [i], clusters: [{x, y, n, s}] }
  const alarms = new Map(); // alarm id -> alarm JSON
  const index = new Map();
  D.id.forEach(function (id, i) { index.set(id, i); });

  const $ = function (id) { return document.getElementById(id); };
  const svg = $("site-map");

  function pxPerUnit() { return basePx * Math.pow(2, level); }
  function measure() {
    const box = svg.getBoundingClientRect();
    basePx = Math.min(box.width / home[2], box.height / home[3]) || 1;
  }

  function cluster(lv) {
    if (cache.has(lv)) return cache.get(lv);
    let out;
    if (lv >= MAX_LEVEL) {
      out = { singles: Array.from({ length: N }, function (_, i) { return i; }), clusters: [] };
    } else {
      const cell = CELL_PX / (basePx * Math.pow(2, lv));
      const cells = new Map();
      for (let i = 0; i < N; i++) {
        const key = Math.floor(D.x[i] / cell) * 1e6 + Math.floor(D.y[i] / cell);
        let c = cells.get(key);
        if (c === undefined) { c = { x: 0, y: 0, n: 0, s: 0, first: i }; cells.set(key, c); }
        c.x += D.x[i]; c.y += D.y[i]; c.n += 1;
        if (RANK[STATUS[D.s[i]]] > RANK[STATUS[c.s]] || c.n === 1) c.s = D.s[i];
      }
      const singles = [], clusters = [];
      cells.forEach(function (c) {
        if (c.n === 1) singles.push(c.first);
        else clusters.push({ x: c.x / c.n, y: c.y / c.n, n: c.n, s: c.s });
      });
      out = { singles: singles, clusters: clusters };
    }
    cache.set(lv, out);
    return out;
  }

  function r(v) { return Math.round(v * 10) / 10; }

  function drawDevices() {
    const c = cluster(level);
    const paths = STATUS.map(function () { return []; });
    c.singles.forEach(function (i) { paths[D.s[i]].push("M" + D.x[i] + " " + D.y[i] + "h0"); });
    $("devices").innerHTML = paths.map(function (p, s) {
      return p.length ? '<path class="dev st-' + STATUS[s] + '" data-status="' + STATUS[s] + '" d="' + p.join("") + '"/>' : "";
    }).join("");
    const px = pxPerUnit();
    const rad = 15 / px, font = 11 / px;
    $("clusters").innerHTML = c.clusters.map(function (k, j) {
      return '<g class="cluster st-' + STATUS[k.s] + '" data-n="' + k.n + '" data-j="' + j + '" transform="translate(' + r(k.x) + " " + r(k.y) + ')">' +
        '<circle r="' + (rad * (k.n >= 100 ? 1.25 : 1)).toFixed(3) + '"/><text font-size="' + font.toFixed(3) + '">' + k.n + "</text></g>";
    }).join("");
    $("zoom-level").textContent = "×" + Math.pow(2, level) + " · " + c.singles.length + " / " + c.clusters.length;
    drawSelection();
  }

  function drawSelection() {
    const g = $("selection");
    if (selected < 0) { g.innerHTML = ""; return; }
    g.innerHTML = '<circle class="selected" cx="' + D.x[selected] + '" cy="' + D.y[selected] + '" r="' + (9 / pxPerUnit()).toFixed(3) + '"/>';
  }

  function setView(v, lv) {
    view = v;
    svg.setAttribute("viewBox", v.map(function (x) { return r(x); }).join(" "));
    if (lv !== level) { level = lv; drawDevices(); drawAlarms(); }
  }

  function zoomAt(cx, cy, lv) {
    lv = Math.max(0, Math.min(MAX_LEVEL, lv));
    const w = home[2] / Math.pow(2, lv), h = home[3] / Math.pow(2, lv);
    setView([cx - w / 2, cy - h / 2, w, h], lv);
  }
  function centre() { return [view[0] + view[2] / 2, view[1] + view[3] / 2]; }

  function toMap(event) {
    const pt = svg.createSVGPoint();
    pt.x = event.clientX; pt.y = event.clientY;
    return pt.matrixTransform(svg.getScreenCTM().inverse());
  }

  // ---- a device ---------------------------------------------------------------------------------------
  function pair(label, value) {
    const dt = document.createElement("dt"); dt.textContent = label;
    const dd = document.createElement("dd"); dd.textContent = value || t("none");
    return [dt, dd];
  }
  function when(iso) {
    return iso ? new Date(iso.endsWith("Z") || /[+-]\d\d:\d\d$/.test(iso) ? iso : iso + "Z").toLocaleString(plan.lang === "zh" ? "zh-CN" : "en-GB", { hour12: false }) : "";
  }

  async function select(i) {
    selected = i;
    drawSelection();
    const panel = $("device-panel");
    panel.dataset.device = D.id[i];
    try {
      const d = await A.api("GET", "/api/v1/devices/" + encodeURIComponent(D.id[i]));
      const h = document.createElement("h2");
      h.textContent = d.name || d.id;
      const status = document.createElement("span");
      status.className = "tag st-" + d.status;
      status.textContent = plan.statuses[d.status] || d.status;
      const dl = document.createElement("dl");
      [].concat(
        pair(t("map_device_id"), d.id),
        pair(t("map_kind"), plan.kinds[d.kind] || d.kind),
        pair(t("location"), d.location),
        pair(t("map_last_seen"), when(d.last_seen_at)),
      ).forEach(function (n) { dl.append(n); });
      panel.replaceChildren(h, status, dl);
    } catch (e) {
      const p = document.createElement("p"); p.className = "msg"; p.textContent = e.message;
      panel.replaceChildren(p);
    }
  }

  function nearest(x, y, radius) {
    const c = cluster(level);
    let best = -1, bestD = radius * radius;
    for (const i of c.singles) {
      const dx = D.x[i] - x, dy = D.y[i] - y, d2 = dx * dx + dy * dy;
      if (d2 <= bestD) { bestD = d2; best = i; }
    }
    return best;
  }

  // ---- alarms -----------------------------------------------------------------------------------------
  function alarmAt(a) {
    if (a.lon !== null && a.lon !== undefined && a.lat !== null && a.lat !== undefined && plan.projection) {
      const p = plan.projection;
      return [(a.lon - p.lon0) * p.kx, (p.lat0 - a.lat) * p.ky];
    }
    if (a.originator && index.has(a.originator.id)) {
      const i = index.get(a.originator.id);
      return [D.x[i], D.y[i]];
    }
    return null;
  }
  function title(a) { return plan.lang === "zh" ? a.title_zh : (a.title_en || a.title_zh); }

  function drawAlarms() {
    if (!plan.canAlarms) return;
    const open = Array.from(alarms.values()).filter(function (a) { return a.open; });
    const rad = 9 / pxPerUnit();
    $("alarms").innerHTML = open.map(function (a) {
      const at = alarmAt(a);
      if (!at) return "";
      const cls = "alarm sev-" + a.severity + (a.status === "active" ? " pulsing" : "");
      return '<g class="' + cls + '" data-id="' + a.id + '" transform="translate(' + r(at[0]) + " " + r(at[1]) + ')">' +
        '<circle class="pulse" r="' + rad.toFixed(3) + '"/><circle class="core" r="' + rad.toFixed(3) + '"/></g>';
    }).join("");
    $("alarm-count").textContent = String(open.length);
    const list = $("alarm-list");
    const items = open.map(function (a) {
      const li = document.createElement("li");
      li.dataset.id = String(a.id);
      const sev = document.createElement("span");
      sev.className = "sev sev-" + a.severity; sev.textContent = t("sev_" + a.severity);
      li.append(sev, " " + title(a) + (a.location ? " · " + a.location : ""));
      if (!alarmAt(a)) li.append(" (" + t("map_unplaced") + ")");
      return li;
    });
    if (!items.length) { const li = document.createElement("li"); li.className = "muted"; li.textContent = t("none"); items.push(li); }
    list.replaceChildren.apply(list, items);
  }

  async function loadAlarms() {
    const q = new URLSearchParams({ estate: plan.estate.code, open: "true", limit: "500" });
    const data = await A.api("GET", "/api/v1/alarms?" + q.toString());
    alarms.clear();
    data.alarms.forEach(function (a) { alarms.set(a.id, a); });
    drawAlarms();
  }

  function connect() {
    const live = $("live");
    const source = new EventSource("/api/v1/alarms/stream");
    source.addEventListener("open", function () { live.dataset.state = "open"; live.textContent = t("live"); });
    source.addEventListener("error", function () { live.dataset.state = "error"; live.textContent = t("offline"); });
    source.addEventListener("alarm", function (event) {
      const a = JSON.parse(event.data).alarm;
      if (a.estate !== plan.estate.code) return;
      if (a.open) alarms.set(a.id, a); else alarms.delete(a.id);
      drawAlarms();
    });
    source.addEventListener("dropped", function () { loadAlarms(); });
  }

  // ---- wiring -----------------------------------------------------------------------------------------
  function wire() {
    $("zoom-in").addEventListener("click", function () { const c = centre(); zoomAt(c[0], c[1], level + 1); });
    $("zoom-out").addEventListener("click", function () { const c = centre(); zoomAt(c[0], c[1], level - 1); });
    $("zoom-reset").addEventListener("click", function () { setView(home.slice(), 0); });
    svg.addEventListener("wheel", function (event) {
      event.preventDefault();
      const p = toMap(event);
      const lv = Math.max(0, Math.min(MAX_LEVEL, level + (event.deltaY < 0 ? 1 : -1)));
      // Keep the point under the pointer where it is.
      const f = Math.pow(2, level - lv);
      const v = [p.x - (p.x - view[0]) * f, p.y - (p.y - view[1]) * f, view[2] * f, view[3] * f];
      setView(v, lv);
    }, { passive: false });
    let start = null;
    svg.addEventListener("pointerdown", function (event) {
      start = { x: event.clientX, y: event.clientY, view: view.slice() };
      dragged = false;
    });
    svg.addEventListener("pointermove", function (event) {
      if (!start) return;
      const dx = event.clientX - start.x, dy = event.clientY - start.y;
      if (!dragged && Math.abs(dx) + Math.abs(dy) < 4) return;
      dragged = true;
      const px = pxPerUnit();
      setView([start.view[0] - dx / px, start.view[1] - dy / px, start.view[2], start.view[3]], level);
    });
    window.addEventListener("pointerup", function () { start = null; });
    svg.addEventListener("click", function (event) {
      if (dragged) { dragged = false; return; }
      const group = event.target.closest("g.cluster");
      const p = toMap(event);
      if (group) {
        const m = /translate\(([-\d.]+) ([-\d.]+)\)/.exec(group.getAttribute("transform"));
        zoomAt(Number(m[1]), Number(m[2]), level + 2);
        return;
      }
      const i = nearest(p.x, p.y, 10 / pxPerUnit());
      if (i >= 0) select(i);
    });
    window.addEventListener("resize", function () { measure(); cache.clear(); drawDevices(); drawAlarms(); });
    // The risk zones are drawn by the server only for those allowed to see them; this only hides them.
    const risk = $("toggle-risk");
    if (risk) {
      risk.addEventListener("change", function () {
        document.querySelectorAll(".risk-layer").forEach(function (g) { g.classList.toggle("off", !risk.checked); });
      });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    measure();
    drawDevices();
    wire();
    // The figure the acceptance test reads: from navigation start to the first frame with every device.
    requestAnimationFrame(function () {
      requestAnimationFrame(function () {
        svg.dataset.renderedMs = performance.now().toFixed(1);
      });
    });
    if (plan.canAlarms) {
      connect();
      loadAlarms().catch(function (e) { $("alarm-list").textContent = e.message; });
    }
  });
  window.AnjuMap = { select: select, zoomAt: zoomAt, plan: plan, level: function () { return level; } };
})();
