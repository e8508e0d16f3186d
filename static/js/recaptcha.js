/*
 * reCAPTCHA v3 on public forms: a form marked
 *   <form data-recaptcha-site-key="…" data-recaptcha-action="invest_lead">
 * with a hidden input named recaptcha_token gets a fresh token on submit (tokens expire
 * after two minutes, so one is asked for only then). Load Google's api.js?render=<site key>
 * before this file. If Google cannot be reached the form is sent without a token, and the
 * server answers with its own message.
 */
(() => {
  "use strict";

  document.addEventListener("submit", (event) => {
    const form = event.target;
    const siteKey = form.dataset.recaptchaSiteKey;
    const action = form.dataset.recaptchaAction;
    const field = form.elements.namedItem("recaptcha_token");
    if (!siteKey || !action || !field || !window.grecaptcha) return;
    event.preventDefault();
    // A second click while Google answers must not send the form twice.
    if (form.dataset.recaptchaPending) return;
    form.dataset.recaptchaPending = "true";
    const send = () => form.submit(); // submit() fires no submit event: no second round.
    window.grecaptcha.ready(() => {
      try {
        window.grecaptcha.execute(siteKey, { action }).then((token) => {
          field.value = token;
          send();
        }, send);
      } catch (error) {
        console.error("reCAPTCHA:", error);
        send();
      }
    });
  });
})();
