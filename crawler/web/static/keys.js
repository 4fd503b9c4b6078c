// Keyboard shortcuts for the review queue (served from 'self'; no inline script anywhere):
// j/k move, x select, o or Enter open, a approve the selection, r reject (type a reason,
// Enter), / search, Shift+A select every row on the page. The queue works without it.
(function () {
  "use strict";
  var form = document.getElementById("bulk");
  if (!form) { return; }
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-id]"));
  var boxes = Array.prototype.slice.call(form.querySelectorAll("input[name=ids]"));
  var all = document.getElementById("select-all");
  var count = document.getElementById("selected-count");
  var reason = form.querySelector("input[name=reason]");
  var approve = form.querySelector("button[value=approve]");
  var reject = form.querySelector("button[value=reject]");
  var current = -1;

  function selected() { return boxes.filter(function (b) { return b.checked; }); }
  function refresh() {
    var n = selected().length;
    count.textContent = n + " selected";
    approve.disabled = n === 0;
    reject.disabled = n === 0;
    rows.forEach(function (row) {
      var box = row.querySelector("input[name=ids]");
      row.classList.toggle("selected", !!(box && box.checked));
    });
    if (all) { all.checked = n > 0 && n === boxes.length; }
  }
  function move(to) {
    if (!rows.length) { return; }
    current = Math.max(0, Math.min(rows.length - 1, to));
    rows.forEach(function (row, i) { row.classList.toggle("current", i === current); });
    rows[current].scrollIntoView({ block: "nearest" });
  }
  function typing(target) {
    return target && (target.tagName === "INPUT" || target.tagName === "SELECT" ||
                      target.tagName === "TEXTAREA");
  }

  boxes.forEach(function (b) { b.addEventListener("change", refresh); });
  if (all) {
    all.addEventListener("change", function () {
      boxes.forEach(function (b) { b.checked = all.checked; });
      refresh();
    });
  }
  form.addEventListener("submit", function (ev) {
    // A rejection needs a reason (the server refuses it too): ask for it here first.
    if (ev.submitter === reject && !reason.value.trim()) {
      ev.preventDefault();
      reason.classList.add("need");
      reason.focus();
    }
  });
  reason.addEventListener("input", function () { reason.classList.remove("need"); });
  reason.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter") {
      ev.preventDefault();
      if (reason.value.trim() && selected().length) { reject.click(); }
    } else if (ev.key === "Escape") { reason.blur(); }
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) { return; }
    var key = ev.key;
    if (key === "j") { move(current + 1); }
    else if (key === "k") { move(current - 1); }
    else if (key === "x" && current >= 0) {
      var box = rows[current].querySelector("input[name=ids]");
      if (box) { box.checked = !box.checked; refresh(); }
    } else if (key === "A") {
      boxes.forEach(function (b) { b.checked = true; }); refresh();
    } else if ((key === "o" || key === "Enter") && current >= 0) {
      var link = rows[current].querySelector("a.open");
      if (link) { window.location.href = link.href; }
    } else if (key === "a") {
      if (!selected().length && current >= 0) {
        var own = rows[current].querySelector("input[name=ids]");
        if (own) { own.checked = true; refresh(); }
      }
      if (selected().length) { approve.click(); }
    } else if (key === "r") {
      if (!selected().length && current >= 0) {
        var mine = rows[current].querySelector("input[name=ids]");
        if (mine) { mine.checked = true; refresh(); }
      }
      reason.focus();
    } else if (key === "/") {
      var search = document.getElementById("q");
      if (search) { search.focus(); }
    } else { return; }
    ev.preventDefault();
  });
  refresh();
})();
