// Claim checks: the chosen file's bytes go to the check route as they are (its encoding is judged on the
// server); the findings come back as JSON and are listed per community.
"use strict";
(function () {
  const A = window.Anju;
  const t = A.t;
  const $ = function (id) { return document.getElementById(id); };

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(function ([k, v]) {
      if (k === "text") node.textContent = v; else if (v !== null && v !== undefined) node.setAttribute(k, v);
    });
    (children || []).forEach(function (c) { if (c !== null && c !== undefined) node.append(c); });
    return node;
  }

  function show(data) {
    const zh = document.documentElement.lang.startsWith("zh");
    $("claims-summary").textContent = data.findings.length
      ? t("claims_found").replace("{c}", String(data.communities.length)).replace("{n}", String(data.findings.length))
      : t("claims_none");
    const counts = $("claims-counts");
    counts.replaceChildren.apply(counts, Object.entries(data.counts).map(function ([kind, n]) {
      return el("li", { "data-kind": kind }, [el("span", { class: "kind-tag", text: t("kind_" + kind) }), " ", el("b", { text: String(n) })]);
    }));
    const byCommunity = new Map();
    data.findings.forEach(function (f) {
      if (!byCommunity.has(f.community)) byCommunity.set(f.community, []);
      byCommunity.get(f.community).push(f);
    });
    const out = $("claims-findings");
    out.replaceChildren.apply(out, Array.from(byCommunity.entries()).map(function ([name, list]) {
      return el("details", { class: "community-findings", open: "" }, [
        el("summary", { text: name + " (" + list.length + ")" }),
        el("ul", { class: "findings" }, list.map(function (f) {
          return el("li", { class: "finding", "data-kind": f.kind }, [
            el("span", { class: "kind-tag", text: t("kind_" + f.kind) }), " ",
            el("b", { text: t("claims_indicator") + " " + f.indicator_no }), " ",
            el("span", { text: zh ? f.detail : (f.detail_en || f.detail) }),
            el("br"), el("small", { class: "muted", text: "“" + String(f.evidence).slice(0, 200) + "”" }),
          ]);
        })),
      ]);
    }));
    $("claims-result").hidden = false;
  }

  async function check(event) {
    event.preventDefault();
    const err = $("claims-error");
    err.hidden = true;
    const file = $("claims-file").files[0];
    if (!file) { err.textContent = t("claims_pick"); err.hidden = false; return; }
    const button = $("claims-check");
    button.disabled = true;
    try {
      const response = await fetch("/evaluation/claims/check", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "text/plain", "Accept": "application/json", "X-CSRF-Token": A.cookie("anju_csrf"), "X-File-Name": encodeURIComponent(file.name) },
        body: await file.arrayBuffer(),
      });
      const data = await response.json().catch(function () { return {}; });
      if (!response.ok) {
        const e = data.error || {};
        throw new Error((document.documentElement.lang.startsWith("zh") ? e.message_zh : e.message_en) || response.statusText);
      }
      show(data);
    } catch (e) {
      err.textContent = e.message; err.hidden = false;
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", function () { $("claims-form").addEventListener("submit", check); });
})();
