// The cancel-flow builder's enhancements: arrow keys between steps on the canvas, autosave of
// the side panel, and problems that light up their step. Every form works without this file.
(function () {
  "use strict";

  // --- keyboard on the canvas ---------------------------------------------------------------
  function nodes() {
    return Array.prototype.slice.call(document.querySelectorAll("#flow-canvas a.node"));
  }
  function pos(el) {
    return { x: +el.getAttribute("data-x"), y: +el.getAttribute("data-y") };
  }
  function nearest(from, key) {
    var p = pos(from), best = null, bestScore = Infinity;
    nodes().forEach(function (el) {
      if (el === from) return;
      var q = pos(el), dx = q.x - p.x, dy = q.y - p.y, main, side;
      if (key === "ArrowDown") { main = dy; side = Math.abs(dx); }
      else if (key === "ArrowUp") { main = -dy; side = Math.abs(dx); }
      else if (key === "ArrowRight") { main = dx; side = Math.abs(dy); }
      else { main = -dx; side = Math.abs(dy); }
      if (main <= 0) return;
      var score = main + side * 2;
      if (score < bestScore) { bestScore = score; best = el; }
    });
    return best;
  }
  function firstField() {
    return document.querySelector("#node-form input:not([type=hidden]), #node-form select, #node-form textarea");
  }
  function selectedNode() {
    return document.querySelector("#flow-canvas a.node.selected");
  }
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && event.target.closest && event.target.closest("#node-form")) {
      var back = selectedNode();  // from the panel back to its step on the canvas
      if (back) { event.preventDefault(); back.focus(); }
      return;
    }
    var el = event.target.closest && event.target.closest("#flow-canvas a.node");
    if (!el) return;
    if (event.key === "Enter" && el.classList.contains("selected") && firstField()) {
      event.preventDefault();  // already open: go to its fields instead of reloading
      firstField().focus();
      return;
    }
    if (["ArrowDown", "ArrowUp", "ArrowLeft", "ArrowRight"].indexOf(event.key) < 0) return;
    var next = nearest(el, event.key);
    if (next) {
      event.preventDefault();
      next.focus();
    }
  });

  // After opening a step (or following a problem's link), put the keyboard where it was going.
  var target = location.hash.indexOf("#f-") === 0 && document.getElementById(location.hash.slice(1));
  if (target && target.focus) {
    target.focus();
  } else if (/[?&]node=/.test(location.search) && selectedNode()) {
    selectedNode().focus({ preventScroll: true });
  }

  // --- problems point at their step -----------------------------------------------------------
  function flash(nodeId, on) {
    if (!nodeId) return;
    nodes().forEach(function (el) {
      if (el.getAttribute("data-node") === nodeId) el.classList.toggle("flash", on);
    });
  }
  ["mouseover", "focusin"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var link = event.target.closest && event.target.closest("#flow-problems a[data-node]");
      if (link) flash(link.getAttribute("data-node"), true);
    });
  });
  ["mouseout", "focusout"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      var link = event.target.closest && event.target.closest("#flow-problems a[data-node]");
      if (link) flash(link.getAttribute("data-node"), false);
    });
  });

  // --- autosave -------------------------------------------------------------------------------
  var status = document.getElementById("save-status");
  var timer = null, sequence = 0;

  function say(text) {
    if (status) status.textContent = text;
  }
  function swap(doc, id) {
    var fresh = doc.getElementById(id), old = document.getElementById(id);
    if (fresh && old) old.replaceWith(fresh);
  }
  function save(form) {
    var body = new URLSearchParams();
    new FormData(form).forEach(function (value, key) {
      if (key !== "op") body.append(key, value);
    });
    var mine = ++sequence;
    say("Saving…");
    var focusedNode = document.activeElement && document.activeElement.getAttribute("data-node");
    fetch(form.action, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-Backstop-Autosave": "1" }
    }).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      return response.text();
    }).then(function (html) {
      if (mine !== sequence) return;  // a newer save is on its way
      var doc = new DOMParser().parseFromString(html, "text/html");
      swap(doc, "flow-canvas");
      swap(doc, "flow-problems");
      swap(doc, "node-problems");
      var src = doc.getElementById("save-status-src");
      say(src ? src.textContent : "Draft saved.");
      if (focusedNode) {
        var again = document.querySelector('#flow-canvas a.node[data-node="' + focusedNode + '"]');
        if (again) again.focus();
      }
    }).catch(function () {
      if (mine !== sequence) return;
      say("Couldn't save the draft just now. Your changes are still here: press “Save” to try again.");
    });
  }
  function schedule(form, delay) {
    clearTimeout(timer);
    timer = setTimeout(function () { save(form); }, delay);
  }
  document.addEventListener("input", function (event) {
    var form = event.target.form;
    if (form && form.hasAttribute("data-autosave")) schedule(form, 700);
  });
  document.addEventListener("change", function (event) {
    var form = event.target.form;
    if (!form) return;
    if (event.target.hasAttribute("data-submit-on-change")) {
      clearTimeout(timer);
      form.submit();
      return;
    }
    if (form.hasAttribute("data-autosave")) schedule(form, 150);
  });
})();
