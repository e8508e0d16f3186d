// A page that shows a form it refused (<meta name="form-errors">, crm/templatetags/page_errors.py):
// the focus goes to what went wrong, so a screen reader says it and the keyboard starts
// there, not at the page's top (the form may be two screens down). The summary above the
// form (data-error-summary, else the page's red alert), else the first field refused.
// Loaded by both layouts (base.html, the portals' layout) only on such a page.
document.addEventListener("DOMContentLoaded", () => {
  if (!document.querySelector('meta[name="form-errors"]')) return;
  const summary =
    document.querySelector("main [data-error-summary]") ||
    document.querySelector('main .alert-danger[role="alert"]') ||
    document.querySelector('main [aria-invalid="true"]');
  if (!summary) return;
  if (!summary.matches("a[href], button, input, select, textarea, [tabindex]")) summary.setAttribute("tabindex", "-1");
  // After the other scripts' own focus on load (a search box, a sign-in's autofocus).
  window.setTimeout(() => summary.focus(), 0);
});
