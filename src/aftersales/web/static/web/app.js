// Send Django's CSRF token with every HTMX request.
document.addEventListener("htmx:configRequest", (event) => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) event.detail.headers["X-CSRFToken"] = meta.content;
});

// Live SLA countdowns: each badge carries its stored due (and warning) time; the remaining time
// is computed here from the clock of the browser, so nothing is recomputed on the server.
function slaText(ms) {
  const lang = document.documentElement.lang || "en";
  const zh = lang.startsWith("zh");
  const past = ms < 0;
  let minutes = Math.floor(Math.abs(ms) / 60000);
  const days = Math.floor(minutes / 1440);
  minutes -= days * 1440;
  const hours = Math.floor(minutes / 60);
  minutes -= hours * 60;
  let span;
  if (days) span = zh ? `${days}天${hours}小时` : `${days} d ${hours} h`;
  else if (hours) span = zh ? `${hours}小时${minutes}分` : `${hours} h ${minutes} min`;
  else span = zh ? `${minutes}分钟` : `${minutes} min`;
  if (past) return zh ? `已超时 ${span}` : `overdue ${span}`;
  return zh ? `剩余 ${span}` : `${span} left`;
}

function slaRefresh(root) {
  const now = Date.now();
  (root || document).querySelectorAll(".sla-remaining[data-due]").forEach((el) => {
    if (!el.dataset.due) return;
    const due = Date.parse(el.dataset.due);
    const warn = el.dataset.warn ? Date.parse(el.dataset.warn) : null;
    el.textContent = slaText(due - now);
    el.classList.toggle("bad", now >= due);
    el.classList.toggle("warn", now < due && warn !== null && now >= warn);
    el.classList.toggle("ok", now < due && (warn === null || now < warn));
  });
}

document.addEventListener("DOMContentLoaded", () => slaRefresh());
document.addEventListener("htmx:afterSwap", (event) => slaRefresh(event.target));
setInterval(() => slaRefresh(), 15000);

// Controls marked `data-autosubmit` submit their form when changed (the language switch): a
// listener here instead of an inline `onchange`, which the Content-Security-Policy forbids.
document.addEventListener("change", (event) => {
  const control = event.target.closest && event.target.closest("[data-autosubmit]");
  if (control && control.form) control.form.submit();
});
