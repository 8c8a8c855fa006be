// Shared by every page: interface texts, the CSRF header for writes, JSON calls, sign-out.
"use strict";
window.Anju = (function () {
  const textsEl = document.getElementById("anju-texts");
  const texts = textsEl ? JSON.parse(textsEl.textContent) : {};

  function t(key) { return texts[key] || key; }

  function cookie(name) {
    const hit = document.cookie.split("; ").find(function (c) { return c.startsWith(name + "="); });
    return hit ? decodeURIComponent(hit.slice(name.length + 1)) : "";
  }

  // The session cookie is HTTP-only; the CSRF token sits beside it in a readable cookie, and every write
  // must echo it in X-CSRF-Token (auth.py refuses a cookie-authenticated write without it).
  async function api(method, url, body) {
    const headers = { "Accept": "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = cookie("anju_csrf");
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(url, {
      method: method, headers: headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json().catch(function () { return {}; });
    if (response.status === 401 && url !== "/api/v1/auth/login") { window.location.assign("/login?next=" + encodeURIComponent(location.pathname)); }
    if (!response.ok) {
      const e = data.error || {};
      const lang = document.documentElement.lang.startsWith("zh") ? "zh" : "en";
      throw new Error((lang === "zh" ? e.message_zh : e.message_en) || response.statusText);
    }
    return data;
  }

  document.addEventListener("DOMContentLoaded", function () {
    const out = document.getElementById("logout");
    if (out) {
      out.addEventListener("click", async function () {
        try { await api("POST", "/api/v1/auth/logout"); } finally { window.location.assign("/login"); }
      });
    }
  });

  return { t: t, api: api, cookie: cookie };
})();
