// Sign-in: the API sets the session and CSRF cookies; then back to the page that sent us here.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    error.hidden = true;
    try {
      await window.Anju.api("POST", "/api/v1/auth/login", {
        username: form.username.value, password: form.password.value,
      });
      window.location.assign(form.dataset.next || "/console");
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
    }
  });
});
