// Cartera's only script besides htmx and Bootstrap. No inline scripts: CSP forbids them.
// After a note is added, put the cursor back in the note box for the next one; refused, on
// the field refused (its error is tied to it). On afterSettle: until then htmx leaves the new
// box with the old one's attributes (a box refused before looked refused still).
document.addEventListener("htmx:afterSettle", (event) => {
  const form = document.getElementById("note-form");
  if (!form || !event.detail.elt || !(event.detail.elt === form || form.contains(event.detail.elt))) return;
  const invalid = form.querySelector('[aria-invalid="true"]');
  const box = document.getElementById("id_summary");
  if (invalid || box) (invalid || box).focus();
});

// Say what a swapped piece asks to say (data-announce="Nota agregada."): one polite status
// for the whole page, there from the start (a live region that arrives with its words is
// often not read), and visually hidden.
(() => {
  let announcer = null;
  document.addEventListener("htmx:afterSettle", (event) => {
    const root = event.detail.elt;
    if (!(root instanceof Element)) return;
    const source = root.matches("[data-announce]") ? root : root.querySelector("[data-announce]");
    if (!source || !announcer) return;
    announcer.textContent = "";
    // A fresh change, even for the same words said again (a second note).
    window.setTimeout(() => {
      announcer.textContent = source.getAttribute("data-announce");
    }, 50);
  });
  // A list's count after a person's search, sort or page (data-announce-count,
  // partials/list_results.html): the results are swapped in silently otherwise. Not after a
  // refresh of the list by itself, and only when the count's words change (each letter typed
  // in the search box sends one).
  let lastCount = null;
  document.addEventListener("htmx:afterSettle", (event) => {
    const root = event.detail.elt;
    const headers = (event.detail.requestConfig && event.detail.requestConfig.headers) || {};
    if (!(root instanceof Element) || !announcer || headers["X-Background-Refresh"]) return;
    const count = root.matches("[data-announce-count]") ? root : root.querySelector("[data-announce-count]");
    const words = count ? count.textContent.replace(/\s+/g, " ").trim() : "";
    if (!words || words === lastCount) return;
    lastCount = words;
    announcer.textContent = words;
  });
  document.addEventListener("DOMContentLoaded", () => {
    const count = document.querySelector("[data-announce-count]");
    if (count) lastCount = count.textContent.replace(/\s+/g, " ").trim();
    announcer = document.createElement("div");
    announcer.id = "page-announcer";
    announcer.className = "visually-hidden";
    announcer.setAttribute("role", "status");
    document.body.append(announcer);
  });
})();

// A count that a region refreshes (the call queue's «3 leads por llamar»), said by a polite
// status outside the region (data-announces="<count's id>") only when it changes: the
// region's own copy is new on every refresh, and would say nothing or too much.
(() => {
  const last = new Map();
  const words = (id) => {
    const count = document.getElementById(id);
    return count ? count.textContent.replace(/\s+/g, " ").trim() : "";
  };
  const check = () => {
    document.querySelectorAll("[data-announces]").forEach((status) => {
      const id = status.getAttribute("data-announces");
      const now = words(id);
      if (!last.has(status)) last.set(status, now); // what the page showed on load: not said
      else if (now && now !== last.get(status)) {
        last.set(status, now);
        status.textContent = now;
      }
    });
  };
  document.addEventListener("DOMContentLoaded", check);
  document.addEventListener("htmx:afterSettle", check);
})();

// A region that refreshes itself while the keyboard is in it (data-refresh-pause-focused="N",
// the call queue): each refresh that changes it gives the focused control a new copy, which
// a screen reader announces again. Up to N refreshes in a row are skipped while the focus is
// inside; the next one goes (the region does not freeze: a pager's link keeps the focus
// after a click), and the server answers it with nothing when nothing changed.
(() => {
  const skipped = new WeakMap();
  document.addEventListener("htmx:confirm", (event) => {
    const region = event.detail.elt;
    if (!(region instanceof Element) || !region.hasAttribute("data-refresh-pause-focused")) return;
    if (!/(^|[\s,])every\s/.test(region.getAttribute("hx-trigger") || "")) return;
    const most = parseInt(region.getAttribute("data-refresh-pause-focused"), 10) || 0;
    const count = skipped.get(region) || 0;
    const active = document.activeElement;
    if (active && active !== region && region.contains(active) && count < most) {
      skipped.set(region, count + 1);
      event.preventDefault();
      return;
    }
    skipped.set(region, 0);
  });
})();

// A region's refresh stopped by a person (WCAG 2.2.2): a toggle button outside the region
// (data-refresh-toggle="<region id>", aria-pressed: the call queue's «Pausar actualización»)
// holds the state, so it lasts across the region's new copies (a person's search, sort or
// page still goes), not across page loads. The region's line data-refresh-note says
// data-paused-text meanwhile. The button shows only with this script (nothing refreshes
// without it).
(() => {
  const toggleFor = (region) =>
    region.id ? document.querySelector(`[data-refresh-toggle="${CSS.escape(region.id)}"]`) : null;
  const isPaused = (region) => {
    const toggle = toggleFor(region);
    return Boolean(toggle && toggle.getAttribute("aria-pressed") === "true");
  };
  const showNote = (region) => {
    if (!region) return;
    region.querySelectorAll("[data-refresh-note]").forEach((note) => {
      if (!note.hasAttribute("data-running-text")) note.setAttribute("data-running-text", note.textContent);
      note.textContent = note.getAttribute(isPaused(region) ? "data-paused-text" : "data-running-text");
    });
  };
  document.addEventListener("click", (event) => {
    const toggle = event.target.closest("[data-refresh-toggle]");
    if (!toggle) return;
    const paused = toggle.getAttribute("aria-pressed") !== "true";
    toggle.setAttribute("aria-pressed", paused ? "true" : "false");
    toggle.classList.toggle("active", paused);
    showNote(document.getElementById(toggle.getAttribute("data-refresh-toggle")));
  });
  document.addEventListener("htmx:confirm", (event) => {
    const region = event.detail.elt;
    if (!(region instanceof Element) || !/(^|[\s,])every\s/.test(region.getAttribute("hx-trigger") || "")) return;
    if (isPaused(region)) event.preventDefault();
  });
  document.addEventListener("htmx:afterSettle", () => {
    document.querySelectorAll("[data-refresh-toggle]").forEach((toggle) => {
      showNote(document.getElementById(toggle.getAttribute("data-refresh-toggle")));
    });
  });
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-refresh-toggle][hidden]").forEach((toggle) => {
      toggle.hidden = false;
    });
  });
})();

// A button that htmx disables while its request runs (hx-disabled-elt: the catalog's
// «Agregar», the quick note) loses the focus: the browser moves it to the page's top, where a
// screen reader says nothing and the next Enter does nothing. Once the answer is in (the
// button enabled again, the new content swapped), the focus goes back to it, or to its new
// copy (same id), unless something else took it. Per request: a poll may answer meanwhile.
(() => {
  const pressed = new Map(); // the element that sent a request -> the control it had focused
  document.addEventListener("htmx:beforeRequest", (event) => {
    const active = document.activeElement;
    const elt = event.detail.elt;
    if (active && active !== document.body && elt instanceof Element && elt.contains(active)) {
      pressed.set(elt, active);
    }
  });
  document.addEventListener("htmx:afterRequest", (event) => {
    const was = pressed.get(event.detail.elt);
    pressed.delete(event.detail.elt);
    if (!was || (document.activeElement && document.activeElement !== document.body)) return;
    const again = was.isConnected ? was : was.id && document.getElementById(was.id);
    if (again && !again.disabled) again.focus({ preventScroll: true });
  });
})();

// The bell's unread count, also beside the menu's button on a narrow screen, where the menu
// (and the bell in it) is folded (base.html, #notifications-narrow): the same count, copied
// from the bell's answer, without its id (one per page).
document.addEventListener("htmx:afterSwap", (event) => {
  const count = event.detail.target;
  const narrow = document.querySelector("#notifications-narrow .notification-count");
  if (!narrow || !count || !count.classList || !count.classList.contains("notification-count")) return;
  if (count === narrow) return;
  narrow.replaceChildren(...Array.from(count.childNodes, (node) => node.cloneNode(true)));
  narrow.querySelectorAll("[id]").forEach((el) => el.removeAttribute("id"));
});

// Ask before any action marked data-confirm (e.g. destructive buttons): the button that
// sends the form (one of several: "Importar" beside "Ver cómo quedan"), else the form. A
// form may also ask for what is chosen in it: a selected <option data-confirm> or a checked
// radio button (a call's outcome that takes its lead out of the queue), since the same
// button is harmless for the others.
document.addEventListener("submit", (event) => {
  const chosen = event.target.querySelector(
    "option[data-confirm]:checked, input[data-confirm]:checked",
  );
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
      ? "No se pudo completar la acción: su sesión o sus permisos cambiaron (error 403). Recargue la página e intente de nuevo."
      : `No se pudo completar la acción (error ${status || "de conexión"}). Recargue la página e intente de nuevo.`;
  alert.scrollIntoView({ block: "nearest" });
});
// A request that never reached the server (no connection).
document.addEventListener("htmx:sendError", (event) => {
  document.dispatchEvent(new CustomEvent("htmx:responseError", { detail: event.detail }));
});

// A region that refreshes itself (an element polling with hx-trigger "every …": the call
// queue, the inbox, an import's progress, the bell) and could not. Two things:
// - A refresh that gets no answer is abandoned after 20 s. htmx has no timeout of its own,
//   and the next poll waits behind the one in flight: one stalled connection (a proxy, a
//   laptop that changed network) stopped the region refreshing until the page was reloaded.
//   Only these refreshes: a person's form may well take longer, and is not sent twice.
// - A failed refresh (5xx, 429, no connection, no answer) swaps nothing, so the page kept
//   showing old data as if it were live. One line before the region says so, with the time
//   of the data still shown; the next refresh that works takes it away.
// A boosted link or pager inside a region is a person's click, not a refresh.
(() => {
  const TIMEOUT_MS = 20000;
  const shownSince = new Map(); // region id -> when the data it shows was fetched
  const loadedAt = Date.now();

  const refreshingRegion = (detail) => {
    const config = detail.requestConfig || detail;
    const elt = config.elt || detail.elt;
    if (!elt || config.boosted || (config.verb || "get").toLowerCase() !== "get") return null;
    return /(^|[\s,])every\s/.test(elt.getAttribute("hx-trigger") || "") ? elt : null;
  };

  document.addEventListener("htmx:configRequest", (event) => {
    if (refreshingRegion(event.detail) && !event.detail.timeout) event.detail.timeout = TIMEOUT_MS;
  });

  const say = (event, problem) => {
    const region = refreshingRegion(event.detail);
    if (!region || !region.id || !region.isConnected) return;
    const lineId = `${region.id}-stale`;
    let line = document.getElementById(lineId);
    if (!line) {
      line = document.createElement("div");
      line.id = lineId;
      line.className = "refresh-stale small";
      line.setAttribute("role", "status");
      region.before(line);
    }
    const since = new Date(shownSince.get(region.id) || loadedAt);
    const time = since.toLocaleTimeString("es", { hour: "2-digit", minute: "2-digit" });
    line.textContent = `${problem}: datos de las ${time}, se reintenta.`;
  };
  document.addEventListener("htmx:responseError", (event) => {
    const status = event.detail.xhr ? event.detail.xhr.status : 0;
    say(event, status ? `No se pudo actualizar (error ${status})` : "Sin conexión");
  });
  document.addEventListener("htmx:sendError", (event) => say(event, "Sin conexión"));
  document.addEventListener("htmx:timeout", (event) => say(event, "Sin respuesta del servidor"));

  // What the region showed was deleted, or is no longer the person's to see (lib.middleware
  // answers its refresh with 286, which stops the polling, and the event "refresh-ended",
  // fired on the region): the line says so, and that it stopped, in place of "se reintenta".
  document.addEventListener("refresh-ended", (event) => {
    const region = event.target;
    if (!(region instanceof Element) || !region.isConnected) return;
    const lineId = region.id ? `${region.id}-stale` : "";
    let line = lineId && document.getElementById(lineId);
    if (!line) {
      line = document.createElement("div");
      if (lineId) line.id = lineId;
      line.className = "refresh-stale small";
      line.setAttribute("role", "status");
      region.before(line);
    }
    line.textContent = (event.detail && event.detail.message) || "Se dejó de actualizar.";
  });

  // Fresh data in the region, by its own refresh or by a person's search: the line goes.
  // (A 286 is the server saying the session ended: nothing was refreshed.)
  document.addEventListener("htmx:afterRequest", (event) => {
    if (!event.detail.successful || (event.detail.xhr && event.detail.xhr.status === 286)) return;
    const region = refreshingRegion(event.detail);
    const target = event.detail.target;
    for (const id of [region && region.id, target && target.id]) {
      if (!id) continue;
      shownSince.set(id, Date.now());
      const line = document.getElementById(`${id}-stale`);
      if (line) line.remove();
    }
  });
})();

// The session ended while a page refreshed itself (lib.middleware answers such a refresh
// with 286, which stops the polling, and the event "session-ended"): the page is left as it
// is, with what the person was typing, and one alert says so with the way back in. A
// person's own request still goes to the sign-in and back (HX-Redirect).
document.addEventListener("session-ended", (event) => {
  if (document.getElementById("session-ended")) return; // the bell and a list both say it
  const detail = event.detail || {};
  const alert = document.createElement("div");
  alert.id = "session-ended";
  alert.className = "alert alert-warning d-flex flex-wrap align-items-center gap-2 m-2";
  alert.setAttribute("role", "alert");
  alert.append(document.createTextNode(detail.message || "Su sesión terminó: vuelva a ingresar."));
  if (detail.login) {
    const link = document.createElement("a");
    link.href = detail.login;
    link.className = "alert-link";
    link.textContent = "Ingresar";
    alert.append(" ", link);
  }
  (document.querySelector("main") || document.body).prepend(alert);
});

// Accessibility of what htmx swaps in and of wide tables (WCAG 2.1: 2.1.1, 2.4.3, 1.1.1).
(() => {
  const FOCUSABLE = "a[href], button, input, select, textarea, [tabindex]:not([tabindex='-1'])";

  // A region that refreshes itself (the call queue every few seconds, a list after a search)
  // is replaced whole: the link or button the keyboard was on went with it, and the focus
  // fell back to the top of the page. Put it back on the same control in the new content:
  // same id, else same link, else the only control with its name. A control in a record of
  // the region (a lead's row, an element with an id) is looked for in that record only, so
  // the focus never lands on another lead's «Tomar»: pressing Enter there would take a lead
  // the agent did not choose. A control outside records (a pager's link) may also go to the
  // one at the same place. Nothing fits (the lead was taken by someone else): the region.
  const recordOf = (control, region) => {
    const holder = control.parentElement && control.parentElement.closest("[id]");
    return holder && holder !== region && region.contains(holder) ? holder : null;
  };
  const looseControls = (region) =>
    Array.from(region.querySelectorAll(FOCUSABLE)).filter((el) => !recordOf(el, region));
  let lost = null;
  document.addEventListener("htmx:beforeSwap", (event) => {
    const target = event.detail.target;
    const active = document.activeElement;
    lost = null;
    if (!target || !target.id || !active || active === document.body || !target.contains(active)) return;
    const record = recordOf(active, target);
    lost = {
      region: target.id,
      record: record ? record.id : "",
      id: active.id,
      href: active.getAttribute("href"),
      name: active.getAttribute("name"),
      index: record ? -1 : looseControls(target).indexOf(active),
    };
  });
  document.addEventListener("htmx:afterSettle", () => {
    const was = lost;
    lost = null;
    // Still somewhere (htmx keeps an element with an id; a script may have moved it): leave it.
    if (!was || (document.activeElement && document.activeElement !== document.body)) return;
    const region = document.getElementById(was.region);
    if (!region) return;
    const scope = was.record ? document.getElementById(was.record) : region;
    const controls = scope && region.contains(scope) ? Array.from(scope.querySelectorAll(FOCUSABLE)) : [];
    const named = was.name ? controls.filter((el) => el.getAttribute("name") === was.name) : [];
    const loose = was.index >= 0 ? looseControls(region) : [];
    const again =
      (was.id && document.getElementById(was.id)) ||
      (was.href && controls.find((el) => el.getAttribute("href") === was.href)) ||
      (named.length === 1 && named[0]) ||
      (loose.length > 0 && loose[Math.min(was.index, loose.length - 1)]);
    // The region itself (also when it had the focus before this refresh) takes it from a
    // script only: tabindex -1, set again on each new copy of it.
    if ((!again || again === region) && !region.hasAttribute("tabindex")) region.setAttribute("tabindex", "-1");
    (again || region).focus({ preventScroll: true });
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

// A list's search box (data-autofocus="wide", partials/list_filters.html) takes the focus on
// a screen from 768 px only: on a phone the keyboard it would open covers the results.
(() => {
  function focusSearch(root) {
    const box = root && root.querySelector && root.querySelector('[data-autofocus="wide"]');
    if (box && window.matchMedia("(min-width: 768px)").matches) box.focus();
  }
  if (window.htmx) window.htmx.onLoad(focusSearch);
  else document.addEventListener("DOMContentLoaded", () => focusSearch(document.body));
})();

// A select's chosen option written in full on a line under it (data-chosen-text="<select
// id>": the follow-up's «Resultado», gestiones/partials/follow_up_form.html): a phone cuts a
// long option ("Documentos completos → Pre est…") and with it where the gestión moves. The
// server writes the line; this keeps it in step when the choice changes, and on load (the
// browser may restore another choice on going back).
(() => {
  function showChoice(line) {
    const select = document.getElementById(line.getAttribute("data-chosen-text"));
    if (!(select instanceof HTMLSelectElement)) return;
    const option = select.selectedOptions[0];
    const text = option && option.value ? option.textContent.trim() : "";
    const words = line.querySelector("span") || line;
    words.textContent = text;
    line.hidden = !text;
  }
  document.addEventListener("change", (event) => {
    const select = event.target;
    if (!(select instanceof HTMLSelectElement) || !select.id) return;
    document.querySelectorAll(`[data-chosen-text="${CSS.escape(select.id)}"]`).forEach(showChoice);
  });
  function showAll(root) {
    if (root && root.querySelectorAll) root.querySelectorAll("[data-chosen-text]").forEach(showChoice);
  }
  if (window.htmx) window.htmx.onLoad(showAll);
  else document.addEventListener("DOMContentLoaded", () => showAll(document.body));
})();
