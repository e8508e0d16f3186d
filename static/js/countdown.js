/*
 * The /recovery offer's countdown: an element
 *   <div data-countdown-seconds="3600"> … <strong data-countdown-clock>01:00:00</strong>
 *     <div role="status"><p data-countdown-ended hidden>…</p></div> </div>
 * counts down from the seconds the server gave (not to a time read off the device's
 * clock, which may be wrong) and, at zero, reloads the page: the server decides whether
 * the offer concluded, and refuses payment once it did. Not while the debtor is writing in
 * a form of the page (a decline's reason chosen, a phone half typed, the focus in a field):
 * the reload would throw it away. Then the ended notice shows in place (a polite status),
 * with a link to the offer's state, and what was typed stays to be sent.
 */
(() => {
  "use strict";

  const pad = (n) => String(n).padStart(2, "0");

  const FIELDS = "input, select, textarea";
  const changed = (field) => {
    if (field.type === "hidden" || field.disabled) return false;
    if (field.type === "checkbox" || field.type === "radio") return field.checked !== field.defaultChecked;
    if (field instanceof HTMLSelectElement) {
      const first = Array.from(field.options).findIndex((option) => option.defaultSelected);
      return field.multiple
        ? Array.from(field.options).some((option) => option.selected !== option.defaultSelected)
        : field.selectedIndex !== (first === -1 ? 0 : first);
    }
    return "defaultValue" in field && field.value !== field.defaultValue;
  };
  const isWriting = () => {
    const active = document.activeElement;
    if (active && active.matches && active.matches(FIELDS)) return true;
    return Array.from(document.querySelectorAll(`form ${FIELDS}`)).some(changed);
  };

  document.querySelectorAll("[data-countdown-seconds]").forEach((box) => {
    const seconds = Number(box.dataset.countdownSeconds);
    if (!Number.isFinite(seconds)) return;
    const end = Date.now() + seconds * 1000;
    const clock = box.querySelector("[data-countdown-clock]") || box;
    const ended = box.querySelector("[data-countdown-ended]");
    let timer = null;
    const tick = () => {
      const left = Math.max(0, Math.ceil((end - Date.now()) / 1000));
      const hours = Math.floor(left / 3600);
      const minutes = Math.floor((left % 3600) / 60);
      clock.textContent = `${pad(hours)}:${pad(minutes)}:${pad(left % 60)}`;
      if (left === 0) {
        window.clearInterval(timer);
        // A moment past the deadline, so the server sees it passed too.
        window.setTimeout(() => {
          if (ended && isWriting()) ended.hidden = false;
          else window.location.reload();
        }, 1000);
      }
    };
    timer = window.setInterval(tick, 1000);
    tick();
  });
})();
