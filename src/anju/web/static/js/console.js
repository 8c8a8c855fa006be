// The duty console: the alarm list from the API, kept live by the SSE stream, with a flash and a beep on
// new critical alarms, and a detail panel whose buttons call the alarm API.
"use strict";
(function () {
  const A = window.Anju;
  const t = A.t;
  const config = JSON.parse(document.getElementById("console-config").textContent);
  const WINDOW_MS = { "1h": 3600e3, "6h": 6 * 3600e3, "24h": 24 * 3600e3, "all": null };
  const alarms = new Map(); // id -> alarm JSON as the API gives it
  let selected = null;
  let keptFor = null; // the alarm whose typed inputs a re-render keeps
  let detailAsked = 0; // how many detail reads have been started; only the latest is drawn
  let listAsked = 0;
  let soundOn = true;
  let audio = null;

  const $ = function (id) { return document.getElementById(id); };
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function ([k, v]) {
      if (k === "text") node.textContent = v; else if (v !== null && v !== undefined) node.setAttribute(k, v);
    });
    (children || []).forEach(function (c) { if (c) node.append(c); });
    return node;
  }
  function when(iso) {
    if (!iso) return "";
    return new Date(iso).toLocaleString(config.lang === "zh" ? "zh-CN" : "en-GB", { hour12: false });
  }
  function who(actor) { return (actor || "").replace(/^user:/, ""); }
  function title(a) { return config.lang === "zh" ? a.title_zh : (a.title_en || a.title_zh); }
  function typeName(code) { return config.types[code] || code; }
  function estateName(code) { return config.estates[code] ? config.estates[code] + " (" + code + ")" : (code || ""); }
  function statusText(a) { return t("status_" + a.status); }

  function filters() {
    const f = new FormData($("filters"));
    return Object.fromEntries(f.entries());
  }

  function query() {
    const f = filters();
    const q = new URLSearchParams({ limit: "200" });
    if (f.estate) q.set("estate", f.estate);
    if (f.type) q.set("type", f.type);
    if (f.severity) q.set("severity", f.severity);
    if (f.status === "open") q.set("open", "true");
    if (f.status === "active" || f.status === "cleared") { q.set("open", "true"); q.set("status", f.status); }
    if (f.status === "closed") q.set("open", "false");
    const span = WINDOW_MS[f.window];
    if (span) q.set("since", new Date(Date.now() - span).toISOString());
    return q;
  }

  // The same filters, for changes arriving on the stream (the server sends every alarm in scope).
  function matches(a) {
    const f = filters();
    if (f.estate && a.estate !== f.estate) return false;
    if (f.type && a.type !== f.type) return false;
    if (f.severity && a.severity !== f.severity) return false;
    if (f.status === "open" && !a.open) return false;
    if ((f.status === "active" || f.status === "cleared") && (!a.open || a.status !== f.status)) return false;
    if (f.status === "closed" && a.open) return false;
    const span = WINDOW_MS[f.window];
    return !span || Date.parse(a.last_seen_at) >= Date.now() - span;
  }

  function slaCell(a) {
    const s = a.sla;
    if (!s) return el("span", { class: "muted", text: "—" });
    if (s.met === true) return el("span", { class: "sla met", text: t("sla_met") });
    if (s.responded_at && s.met === false) return el("span", { class: "sla breached", text: t("sla_breached") });
    return el("span", { class: "sla clock", "data-due": s.due_at, text: "" });
  }

  function tickClocks() {
    document.querySelectorAll(".sla.clock").forEach(function (node) {
      const left = Math.round((Date.parse(node.dataset.due) - Date.now()) / 1000);
      if (left < 0) { node.textContent = t("sla_breached") + " " + fmt(-left); node.classList.add("breached"); }
      else node.textContent = t("sla_left") + " " + fmt(left);
    });
  }
  function fmt(seconds) {
    const m = Math.floor(seconds / 60), s = seconds % 60;
    return m + ":" + String(s).padStart(2, "0");
  }

  function row(a) {
    return el("tr", { "data-id": String(a.id), "data-severity": a.severity, class: a.id === selected ? "selected" : null }, [
      el("td", {}, [el("span", { class: "sev sev-" + a.severity, text: t("sev_" + a.severity) })]),
      el("td", {}, [
        el("div", { text: title(a) }),
        el("small", { class: "muted", text: typeName(a.type) + (a.location ? " · " + a.location : "") }),
      ]),
      el("td", { class: "wide", text: estateName(a.estate) }),
      el("td", {}, [
        el("span", { class: "tag", text: statusText(a) }), " ",
        el("span", { class: a.acknowledged ? "tag ack" : "tag unack", text: a.acknowledged ? t("acknowledged") : t("unacknowledged") }),
      ]),
      el("td", { class: "wide", text: when(a.last_seen_at) }),
      el("td", {}, [slaCell(a)]),
    ]);
  }

  function draw() {
    const body = $("alarm-rows");
    const list = Array.from(alarms.values()).filter(matches);
    list.sort(function (x, y) { return Date.parse(y.updated_at) - Date.parse(x.updated_at); });
    body.replaceChildren.apply(body, list.map(row));
    $("no-alarms").hidden = list.length > 0;
    tickClocks();
  }

  async function load() {
    const ask = ++listAsked;
    const data = await A.api("GET", "/api/v1/alarms?" + query().toString());
    if (ask !== listAsked) return; // a later filter change asked again
    alarms.clear();
    data.alarms.forEach(function (a) { alarms.set(a.id, a); });
    draw();
  }

  // ---- alert: flash and beep --------------------------------------------------------------------------
  function beep() {
    document.body.dataset.beeps = String(Number(document.body.dataset.beeps || 0) + 1);
    if (!soundOn) return;
    try {
      // Generated, not an audio file: nothing to download, works offline.
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const osc = audio.createOscillator(), gain = audio.createGain();
      osc.type = "square"; osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.15, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.6);
      osc.connect(gain).connect(audio.destination);
      osc.start(); osc.stop(audio.currentTime + 0.6);
    } catch (e) { /* no audio device: the flash still shows */ }
  }

  function alert(a) {
    const banner = $("critical-banner");
    banner.textContent = t("new_critical") + " " + title(a) + " · " + estateName(a.estate);
    banner.hidden = false;
    banner.classList.remove("flash"); void banner.offsetWidth; banner.classList.add("flash");
    const tr = document.querySelector('#alarm-rows tr[data-id="' + a.id + '"]');
    if (tr) tr.classList.add("flash");
    beep();
  }

  // ---- live stream ------------------------------------------------------------------------------------
  function connect() {
    const live = $("live");
    const source = new EventSource("/api/v1/alarms/stream");
    source.addEventListener("open", function () { live.dataset.state = "open"; live.textContent = t("live"); });
    source.addEventListener("error", function () { live.dataset.state = "error"; live.textContent = t("offline"); });
    source.addEventListener("alarm", function (event) {
      const change = JSON.parse(event.data);
      const a = change.alarm;
      alarms.set(a.id, a);
      draw();
      if (change.change === "created" && a.severity === "critical" && matches(a)) alert(a);
      if (selected === a.id) showDetail(a.id);
    });
    // The server dropped changes for this slow client: the list is re-read whole.
    source.addEventListener("dropped", function () { load(); });
  }

  // ---- detail -----------------------------------------------------------------------------------------
  function pair(label, value) { return [el("dt", { text: label }), el("dd", { text: value || t("none") })]; }

  function action(label, name, inputPh, bodyKey, danger) {
    const box = el("div", { class: "actions" });
    let input = null;
    if (inputPh) { input = el("input", { name: name, placeholder: inputPh, maxlength: "500" }); box.append(input); }
    const button = el("button", { type: "button", class: "small" + (danger ? " danger" : ""), "data-action": name, text: label });
    button.addEventListener("click", async function () {
      const body = input ? { [bodyKey]: input.value.trim() } : undefined;
      button.disabled = true;
      try {
        const data = await A.api("POST", "/api/v1/alarms/" + selected + "/" + name, body);
        if (input) input.value = "";
        alarms.set(data.alarm.id, data.alarm);
        draw();
        await showDetail(data.alarm.id);
      } catch (e) {
        const msg = $("action-error");
        msg.textContent = e.message; msg.hidden = false;
        button.disabled = false;
      }
    });
    box.append(button);
    return box;
  }

  async function showDetail(id) {
    selected = id;
    // An action's own refresh and the stream's can overlap and their answers arrive in either order:
    // only the last one asked for is drawn, so an older read never hides a newer event.
    const ask = ++detailAsked;
    const data = await A.api("GET", "/api/v1/alarms/" + id);
    if (ask !== detailAsked) return;
    const a = data.alarm;
    alarms.set(a.id, a);
    const panel = $("detail");
    const parts = [
      el("h2", {}, [el("span", { class: "sev sev-" + a.severity, text: t("sev_" + a.severity) }), " ", title(a)]),
      el("dl", {}, [].concat(
        pair(t("location"), (a.location || "") + " · " + estateName(a.estate)),
        pair(t("originator"), a.originator.kind + ":" + a.originator.id),
        pair(t("count"), String(a.count)),
        pair(t("first_seen"), when(a.first_seen_at)),
        pair(t("assigned_to"), a.assigned_to),
        pair(t("result"), a.result),
      )),
      el("h3", { text: t("records") }),
      el("ul", {}, a.records.length ? a.records.map(function (r) { return el("li", { text: r }); }) : [el("li", { class: "muted", text: t("none") })]),
      el("h3", { text: t("cameras") }),
      el("ul", {}, a.cameras.length ? a.cameras.map(function (c) {
        return el("li", { text: (c.id || "") + (c.location ? " · " + c.location : "") + (c.distance_m !== undefined ? " · " + Math.round(c.distance_m) + " m" : "") });
      }) : [el("li", { class: "muted", text: t("none") })]),
    ];
    if (config.canEdit && a.open) {
      parts.push(el("p", { class: "msg", id: "action-error", hidden: "" }));
      if (!a.acknowledged) parts.push(action(t("acknowledge"), "acknowledge"));
      parts.push(action(t("assign"), "assign", t("assign_to_ph"), "to"));
      parts.push(action(t("dispatch"), "dispatch", t("dispatch_ph"), "note"));
      parts.push(action(t("comment"), "comment", t("comment_ph"), "text"));
      if (!a.cleared) parts.push(action(t("clear"), "clear"));
      parts.push(action(t("close"), "close", t("close_ph"), "result", true));
    }
    parts.push(el("h3", { text: t("timeline") }));
    parts.push(el("ol", { class: "timeline", id: "timeline" }, (a.events || []).map(function (e) {
      const extra = e.detail && (e.detail.text || e.detail.note || e.detail.result || e.detail.to);
      return el("li", { "data-action": e.action }, [
        el("time", { datetime: e.at, text: when(e.at) }),
        el("b", { text: who(e.actor) }), " ",
        el("span", { text: t("ev_" + e.action) === "ev_" + e.action ? e.action : t("ev_" + e.action) }),
        extra ? el("span", { class: "muted", text: " — " + extra }) : null,
      ]);
    })));
    // A change arriving on the stream re-renders the panel: what the operator was typing survives it.
    const typed = {};
    panel.querySelectorAll(".actions input").forEach(function (i) { if (i.value) typed[i.name] = i.value; });
    panel.replaceChildren.apply(panel, parts);
    if (id === keptFor) {
      panel.querySelectorAll(".actions input").forEach(function (i) { if (typed[i.name]) i.value = typed[i.name]; });
    }
    keptFor = id;
    draw();
  }

  // ---- wiring -----------------------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", function () {
    $("filters").addEventListener("change", load);
    $("alarm-rows").addEventListener("click", function (event) {
      const tr = event.target.closest("tr[data-id]");
      if (tr) showDetail(Number(tr.dataset.id));
    });
    $("critical-banner").addEventListener("click", function () { $("critical-banner").hidden = true; });
    const sound = $("sound");
    sound.addEventListener("click", function () {
      soundOn = !soundOn;
      sound.textContent = soundOn ? t("sound_on") : t("sound_off");
      sound.setAttribute("aria-pressed", String(soundOn));
      // A browser lets audio start only after a user gesture: this click is one.
      if (soundOn && !audio) { try { audio = new (window.AudioContext || window.webkitAudioContext)(); } catch (e) { /* none */ } }
    });
    setInterval(tickClocks, 1000);
    // Subscribed before the list is read, so that nothing raised in between is missed.
    connect();
    load().catch(function (e) { $("no-alarms").textContent = e.message; $("no-alarms").hidden = false; });
  });
})();
