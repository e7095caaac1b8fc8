// oakallow dashboard: progressive enhancement only; every page works without this file.
//
// - Copy buttons: `<button class="copy" data-copy="ID">` copies the text of the element whose
//   id is ID, and says so. (app.css hides copy buttons on pages where this script did not run.)
// - Live approvals: an element with `data-live-approvals` and `data-src="URL"` listens to the
//   server-sent events at URL; each event of type `approvals` carries a server-rendered HTML
//   fragment that replaces the element's content. EventSource reconnects by itself. While the
//   person is typing a note inside the element (focus inside, or a field changed), the newest
//   fragment is held (the element gets `data-held`) and applied once they leave it unchanged.
//   A fragment identical to what is shown (the first event always is) replaces nothing.
"use strict";

(() => {
  document.documentElement.classList.add("js");

  // ---- Copy buttons ----

  const status = document.createElement("p");
  status.className = "visually-hidden";
  status.setAttribute("role", "status");

  async function writeClipboard(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return true;
      } catch {
        // Refused (no permission, no focus): fall back below.
      }
    }
    return false;
  }

  // Selects the source so that the person can copy it by hand if the browser refuses.
  function selectContents(element) {
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    return document.execCommand && document.execCommand("copy");
  }

  function tell(button, message) {
    if (!button.dataset.label) button.dataset.label = button.textContent;
    button.textContent = message;
    status.textContent = message;
    clearTimeout(button.copyTimer);
    button.copyTimer = setTimeout(() => {
      button.textContent = button.dataset.label;
    }, 2000);
  }

  async function copy(button) {
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    const copied = (await writeClipboard(source.textContent.trim())) || selectContents(source);
    tell(button, copied ? "Copied" : "Press Ctrl+C to copy");
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.copy[data-copy]");
    if (button) copy(button);
  });

  // ---- Live approvals ----

  function edited(element) {
    return [...element.querySelectorAll("input, textarea, select")].some((field) =>
      field.type === "checkbox" || field.type === "radio"
        ? field.checked !== field.defaultChecked
        : field.tagName === "SELECT"
          ? [...field.options].some((option) => option.selected !== option.defaultSelected)
          : field.value !== field.defaultValue,
    );
  }

  function busy(element) {
    return element.contains(document.activeElement) || edited(element);
  }

  function live(element) {
    let held = null;
    const apply = (html) => {
      held = null;
      delete element.dataset.held;
      element.innerHTML = html;
    };
    // Whether `html` is what the element shows already (both as this browser serialises them):
    // then nothing is replaced, so a button about to be clicked or a field with focus stays.
    const showing = (html) => {
      const parsed = document.createElement("template");
      parsed.innerHTML = html;
      return parsed.innerHTML === element.innerHTML;
    };
    const source = new EventSource(element.dataset.src);
    source.addEventListener("approvals", (event) => {
      if (showing(event.data)) {
        held = null;
        delete element.dataset.held;
      } else if (busy(element)) {
        held = event.data;
        element.dataset.held = "";
      } else {
        apply(event.data);
      }
    });
    const release = () => {
      if (held !== null && !busy(element)) apply(held);
    };
    element.addEventListener("focusout", (event) => {
      if (!element.contains(event.relatedTarget)) release();
    });
  }

  function start() {
    // First in the page: positioned out of the flow, it must not lengthen the page either.
    document.body.prepend(status);
    if ("EventSource" in window) {
      document.querySelectorAll("[data-live-approvals][data-src]").forEach(live);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
