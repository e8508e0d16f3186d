// Cartera's only script besides htmx and Bootstrap. No inline scripts: CSP forbids them.
document.addEventListener("htmx:afterSwap", (event) => {
  // After a note is added, put the cursor back in the note box for the next one.
  if (event.detail.target && event.detail.target.id === "note-form") {
    const box = document.getElementById("id_summary");
    if (box && !box.classList.contains("is-invalid")) box.focus();
  }
});

// Ask before any action marked data-confirm (e.g. destructive buttons): the button that
// sends the form (one of several: "Importar" beside "Ver cómo quedan"), else the form. A
// form may also ask for what is chosen in it: a selected <option data-confirm> (a
// follow-up result that ends the gestión), since the same button is harmless for the others.
document.addEventListener("submit", (event) => {
  const chosen = event.target.querySelector("option[data-confirm]:checked");
  const message =
    (event.submitter && event.submitter.getAttribute("data-confirm")) ||
    event.target.getAttribute("data-confirm") ||
    (chosen && chosen.getAttribute("data-confirm"));
  if (message && !window.confirm(message)) event.preventDefault();
});

// "Imprimir / PDF" buttons (data-print): the browser's print dialog also saves as PDF.
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});

// Submit a GET filter form as soon as a control marked data-autosubmit changes.
document.addEventListener("change", (event) => {
  const control = event.target.closest("[data-autosubmit]");
  if (control && control.form) {
    control.form.requestSubmit();
  }
});

// "Copiar" buttons (data-copy): put the value on the clipboard and say so on the button.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button || !navigator.clipboard) return;
  navigator.clipboard.writeText(button.getAttribute("data-copy")).then(() => {
    const label = button.getAttribute("data-copied");
    if (label) button.textContent = label;
  });
});

// Variable chips (data-insert="<textarea id>"): put the variable where the cursor is.
document.addEventListener("click", (event) => {
  const chip = event.target.closest("[data-insert]");
  const box = chip && document.getElementById(chip.getAttribute("data-insert"));
  if (!box || typeof box.setRangeText !== "function") return;
  box.setRangeText(chip.getAttribute("data-copy"), box.selectionStart, box.selectionEnd, "end");
  box.focus();
  box.dispatchEvent(new Event("keyup"));
});

// An action sent by htmx (a note, a form in a page) that the server refused or failed:
// htmx swaps nothing then, so without a word the person would think it was done. Only
// for what a person sent: a fragment a page loads by itself may be refused to a role.
document.addEventListener("htmx:responseError", (event) => {
  const verb = ((event.detail.requestConfig && event.detail.requestConfig.verb) || "get").toLowerCase();
  if (verb === "get") return;
  const status = event.detail.xhr ? event.detail.xhr.status : 0;
  const main = document.querySelector("main");
  if (!main) return;
  let alert = document.getElementById("htmx-error");
  if (!alert) {
    alert = document.createElement("div");
    alert.id = "htmx-error";
    alert.className = "alert alert-danger";
    alert.setAttribute("role", "alert");
    main.prepend(alert);
  }
  alert.textContent =
    status === 403
      ? "No se pudo completar la acción: su sesión cambió (error 403). Recargue la página e intente de nuevo."
      : `No se pudo completar la acción (error ${status || "de conexión"}). Recargue la página e intente de nuevo.`;
  alert.scrollIntoView({ block: "nearest" });
});
// A request that never reached the server (no connection).
document.addEventListener("htmx:sendError", (event) => {
  document.dispatchEvent(new CustomEvent("htmx:responseError", { detail: event.detail }));
});

// Accessibility of what htmx swaps in and of wide tables (WCAG 2.1: 2.1.1, 2.4.3, 1.1.1).
(() => {
  const FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]:not([tabindex='-1'])";

  // A region that refreshes itself (the call queue every few seconds, a list after a search)
  // is replaced whole: the link or button the keyboard was on went with it, and the focus
  // fell back to the top of the page. Put it back on the same control in the new content:
  // same id, else same link, else same field name, else the one at the same place.
  let lost = null;
  document.addEventListener("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    const active = document.activeElement;
    lost = null;
    if (!target || !target.id || !active || active === document.body || !target.contains(active)) return;
    lost = {
      region: target.id,
      id: active.id,
      href: active.getAttribute("href"),
      name: active.getAttribute("name"),
      index: Array.from(target.querySelectorAll(FOCUSABLE)).indexOf(active),
    };
  });
  document.addEventListener("htmx:afterSettle", () => {
    const was = lost;
    lost = null;
    // Still somewhere (htmx keeps an element with an id; a script may have moved it): leave it.
    if (!was || (document.activeElement && document.activeElement !== document.body)) return;
    const region = document.getElementById(was.region);
    if (!region) return;
    const controls = Array.from(region.querySelectorAll(FOCUSABLE));
    const again =
      (was.id && document.getElementById(was.id)) ||
      (was.href && controls.find((el) => el.getAttribute("href") === was.href)) ||
      (was.name && controls.find((el) => el.getAttribute("name") === was.name)) ||
      (was.index >= 0 && controls[Math.min(was.index, controls.length - 1)]);
    if (again) again.focus({ preventScroll: true });
  });

  function improve(root) {
    if (!root || !root.querySelectorAll) return;
    // Bootstrap Icons are drawn from a private-use character that a screen reader may read
    // out: beside their words (or a button's label) they are decoration.
    root.querySelectorAll("i.bi:not([aria-hidden]):not([aria-label]):not([role])").forEach((icon) => {
      icon.setAttribute("aria-hidden", "true");
    });
    // A table wider than a phone scrolls inside its box: the box takes the keyboard's focus,
    // so the arrow keys can scroll it (a table of plain text has nothing else to focus).
    root.querySelectorAll(".table-responsive, .schedule-table").forEach((box) => {
      const scrolls = box.scrollWidth > box.clientWidth || box.scrollHeight > box.clientHeight;
      if (scrolls && !box.hasAttribute("tabindex")) box.setAttribute("tabindex", "0");
    });
  }
  // htmx calls this for the page once loaded, and for each piece it swaps in.
  if (window.htmx) window.htmx.onLoad(improve);
  else document.addEventListener("DOMContentLoaded", () => improve(document.body));
})();
