// The help button: one POST (the server keeps one call per house per few minutes, so a mashed button
// sends one call), then the confirmation page. A signed-in resident's session needs the CSRF header.
"use strict";
(function () {
  const textsEl = document.getElementById("anju-texts");
  const texts = textsEl ? JSON.parse(textsEl.textContent) : {};
  function t(key) { return texts[key] || key; }
  function csrf() {
    const m = document.cookie.match(/(?:^|; )anju_csrf=([^;]*)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  document.addEventListener("DOMContentLoaded", function () {
    const form = document.getElementById("help-form");
    if (!form) return;
    const button = document.getElementById("help-button");
    const out = document.getElementById("help-error");
    let busy = false;
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      if (busy) return;
      busy = true;
      button.disabled = true;
      button.textContent = t("res_sending");
      out.hidden = true;
      const headers = { "Content-Type": "application/json", "Accept": "application/json" };
      const token = csrf();
      if (token) headers["X-CSRF-Token"] = token;
      const body = { name: form.elements.name.value || null, phone: form.elements.phone.value || null };
      try {
        const r = await fetch("/d/" + encodeURIComponent(form.dataset.token) + "/help", {
          method: "POST", credentials: "same-origin", headers: headers, body: JSON.stringify(body),
        });
        const data = await r.json().catch(function () { return {}; });
        if (r.ok) { window.location.assign(data.next); return; }
        const e = data.error || {};
        const zh = document.documentElement.lang.startsWith("zh");
        out.textContent = (zh ? e.message_zh : e.message_en) || t("res_failed");
      } catch (e) {
        out.textContent = t("res_failed");
      }
      out.hidden = false;
      busy = false;
      button.disabled = false;
      button.textContent = t("res_button");
    });
  });
})();
