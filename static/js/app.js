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
