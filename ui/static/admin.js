// Small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    function say(text) {
      button.textContent = text;
      setTimeout(function () { button.textContent = label; }, 2000);
    }
    function selectSource() {
      // No clipboard access (plain http on another host): select the text for Ctrl+C / Cmd+C.
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      say("Selected: press Ctrl+C");
    }
    if (!navigator.clipboard || !window.isSecureContext) { selectSource(); return; }
    navigator.clipboard.writeText(source.textContent.trim()).then(function () { say("Copied"); }, selectSource);
  });
  // On a phone, tables stack into one card per row: each cell is labelled with its column's
  // heading (the CSS in admin.css does the layout; without this script tables scroll sideways).
  function labelTables() {
    var tables = document.querySelectorAll("table:not(.compact):not(.no-stack)");
    Array.prototype.forEach.call(tables, function (table) {
      var heads = table.querySelectorAll("thead th");
      if (!heads.length) return;
      var labels = Array.prototype.map.call(heads, function (th) {
        return th.querySelector(".visually-hidden") ? "" : th.textContent.trim();
      });
      Array.prototype.forEach.call(table.querySelectorAll("tbody tr"), function (row) {
        var index = 0;
        Array.prototype.forEach.call(row.children, function (cell) {
          if (cell.tagName === "TD" && !cell.hasAttribute("colspan")) {
            cell.setAttribute("data-label", labels[index] || "");
          }
          index += cell.colSpan || 1;
        });
      });
      table.classList.add("stack");
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", labelTables);
  } else {
    labelTables();
  }
})();
