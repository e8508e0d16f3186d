/*
 * The /recovery offer's countdown: an element
 *   <div data-countdown-seconds="3600"> … <strong data-countdown-clock>01:00:00</strong> </div>
 * counts down from the seconds the server gave (not to a time read off the device's
 * clock, which may be wrong) and, at zero, reloads the page: the server decides whether
 * the offer concluded, and refuses payment once it did.
 */
(() => {
  "use strict";

  const pad = (n) => String(n).padStart(2, "0");

  document.querySelectorAll("[data-countdown-seconds]").forEach((box) => {
    const seconds = Number(box.dataset.countdownSeconds);
    if (!Number.isFinite(seconds)) return;
    const end = Date.now() + seconds * 1000;
    const clock = box.querySelector("[data-countdown-clock]") || box;
    let timer = null;
    const tick = () => {
      const left = Math.max(0, Math.ceil((end - Date.now()) / 1000));
      const hours = Math.floor(left / 3600);
      const minutes = Math.floor((left % 3600) / 60);
      clock.textContent = `${pad(hours)}:${pad(minutes)}:${pad(left % 60)}`;
      if (left === 0) {
        window.clearInterval(timer);
        // A moment past the deadline, so the server sees it passed too.
        window.setTimeout(() => window.location.reload(), 1000);
      }
    };
    timer = window.setInterval(tick, 1000);
    tick();
  });
})();
