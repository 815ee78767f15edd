// The viewer's login form, shown when a read answers 401 (READ_TOKEN mode without a session): Scale's form login
// as Scale's own UI does it. GET /v6/accounts/login/ sets the csrftoken cookie; POST the username and password
// as JSON with that token in X-CSRFToken; the answer sets the session cookie, and the page loads again.
// Built with DOM calls only (no markup from strings), like the viewer.
"use strict";
window.ViewerLogin = (function () {
  const LOGIN = "/v6/accounts/login/";

  function csrfToken() {
    const found = document.cookie.split(";").map((c) => c.trim()).find((c) => c.startsWith("csrftoken="));
    return found ? decodeURIComponent(found.slice("csrftoken=".length)) : "";
  }

  function field(form, label, type, id, autocomplete) {
    const wrap = document.createElement("label");
    wrap.textContent = label + " ";
    const input = document.createElement("input");
    Object.assign(input, {type, id, name: id, required: true, autocomplete});
    wrap.appendChild(input);
    form.appendChild(wrap);
    return input;
  }

  function build() {
    const style = document.createElement("link");
    Object.assign(style, {rel: "stylesheet", href: "/viewer/login.css"});
    document.head.appendChild(style);
    const form = document.createElement("form");
    form.id = "login-form";
    const title = document.createElement("strong");
    title.textContent = "Log in to read the logs";
    form.appendChild(title);
    field(form, "Username", "text", "login-username", "username");
    field(form, "Password", "password", "login-password", "current-password");
    const button = document.createElement("button");
    Object.assign(button, {type: "submit", id: "login-submit", textContent: "Log in"});
    form.appendChild(button);
    const message = document.createElement("span");
    message.id = "login-message";
    message.setAttribute("role", "alert");
    form.appendChild(message);
    (document.getElementById("login-box") || document.body).prepend(form);
    return form;
  }

  async function logIn(form, done) {
    const message = document.getElementById("login-message");
    message.textContent = "";
    try {
      await fetch(LOGIN, {credentials: "same-origin"});  // sets the csrftoken cookie if there is none yet
      const resp = await fetch(LOGIN, {
        method: "POST",
        credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken()},
        body: JSON.stringify({username: form.elements["login-username"].value,
                              password: form.elements["login-password"].value}),
      });
      if (resp.ok) { form.hidden = true; done(); return; }
      let detail = resp.statusText;
      try { detail = (await resp.json()).detail || detail; } catch (e) { /* not JSON */ }
      message.textContent = detail;
    } catch (e) {
      message.textContent = "Error: " + e.message;
    }
  }

  // Show the form; after a login, `done` runs (by default the page loads again, now with the session).
  function show(done) {
    const form = document.getElementById("login-form") || build();
    form.hidden = false;
    form.onsubmit = (event) => { event.preventDefault(); logIn(form, done || (() => location.reload())); };
    form.elements["login-username"].focus();
  }

  if (document.getElementById("login-page")) show();  // the page a browser gets instead of a 401 error
  return {show};
})();
