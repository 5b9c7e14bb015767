// Keyboard-first desk: "/" or F2 focuses the search box; ↓ from it moves into the hits,
// ↑/↓ move between them, Escape returns to the box. Works without it: Enter submits the form.
(function () {
  "use strict";
  function search() { return document.getElementById("q"); }
  function hits() { return Array.prototype.slice.call(document.querySelectorAll("#results .hits a")); }
  document.addEventListener("keydown", function (e) {
    var box = search();
    var typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement;
    if (box && !typing && (e.key === "/" || e.key === "F2")) {
      e.preventDefault(); box.focus(); box.select(); return;
    }
    var list = hits();
    var at = list.indexOf(document.activeElement);
    if (e.key === "ArrowDown" && (e.target === box || at >= 0) && list.length) {
      e.preventDefault(); list[Math.min(at + 1, list.length - 1)].focus();
    } else if (e.key === "ArrowUp" && at >= 0) {
      e.preventDefault(); if (at === 0) { box.focus(); } else { list[at - 1].focus(); }
    } else if (e.key === "Escape" && box && (at >= 0 || e.target === box)) {
      box.focus(); if (e.target === box) { box.value = ""; }
    }
  });
})();
