/*
 * reCAPTCHA v3 on public forms: a form marked
 *   <form data-recaptcha-site-key="…" data-recaptcha-action="invest_lead">
 * with a hidden input named recaptcha_token gets a fresh token on submit (tokens expire
 * after two minutes, so one is asked for only then). Google's api.js?render=<site key> loads
 * async beside this file: a form sent before it arrived (3G) is held, its button disabled,
 * while an element [data-recaptcha-status] says its data-waiting text («Verificando…»),
 * for up to WAIT_MS. If Google never answers, the form's [data-recaptcha-failed] message is
 * shown and the button given back; a form without one is sent without a token, and the
 * server says that the check did not load.
 */
(() => {
  "use strict";

  const WAIT_MS = 15000;
  const STEP_MS = 100;

  const timeout = (ms) =>
    new Promise((_resolve, reject) => {
      setTimeout(() => reject(new Error("reCAPTCHA did not answer in time")), ms);
    });

  // Google's script, once it has run: polled, since an async script may arrive any time.
  const loaded = (deadline) =>
    new Promise((resolve, reject) => {
      const look = () => {
        const google = window.grecaptcha;
        if (google && typeof google.ready === "function") resolve(google);
        else if (Date.now() >= deadline) reject(new Error("reCAPTCHA did not load"));
        else setTimeout(look, STEP_MS);
      };
      look();
    });

  const token = async (siteKey, action) => {
    const deadline = Date.now() + WAIT_MS;
    const google = await loaded(deadline);
    const left = () => Math.max(deadline - Date.now(), 0);
    await Promise.race([new Promise((resolve) => google.ready(resolve)), timeout(left())]);
    return Promise.race([google.execute(siteKey, { action }), timeout(left())]);
  };

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    const siteKey = form.dataset.recaptchaSiteKey;
    const action = form.dataset.recaptchaAction;
    const field = form.elements.namedItem("recaptcha_token");
    if (!siteKey || !action || !field) return;
    event.preventDefault();
    // A second tap while the check runs must not send the form twice.
    if (form.dataset.recaptchaPending) return;
    form.dataset.recaptchaPending = "true";
    const buttons = form.querySelectorAll("button:not([type]), button[type='submit'], input[type='submit']");
    const status = form.querySelector("[data-recaptcha-status]");
    const failed = form.querySelector("[data-recaptcha-failed]");
    buttons.forEach((button) => { button.disabled = true; });
    if (failed) failed.hidden = true;
    if (status) status.textContent = status.dataset.waiting || "";
    const send = () => form.submit(); // submit() fires no submit event: no second round.
    token(siteKey, action).then(
      (value) => {
        field.value = value;
        send();
      },
      (error) => {
        console.error("reCAPTCHA:", error);
        if (!failed) {
          send(); // The server answers that the check did not load.
          return;
        }
        if (status) status.textContent = "";
        buttons.forEach((button) => { button.disabled = false; });
        delete form.dataset.recaptchaPending;
        failed.hidden = false;
        failed.focus();
      },
    );
  });
})();
