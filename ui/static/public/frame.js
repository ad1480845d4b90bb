/* The hosted side of the embed: a page opened in embed.js's modal talks to its parent here.
   It posts only to the origin the server vouched for (<meta name="backstop-parent">, an origin
   the workspace lists) and listens only to its own parent window from that origin. */
(function (w, d) {
  "use strict";
  var meta = d.querySelector('meta[name="backstop-parent"]');
  var parentOrigin = meta && meta.content;
  var framed = w.parent && w.parent !== w;

  function send(type, data) {
    if (!framed || !parentOrigin) return false;
    var message = { source: "backstop", v: 1, type: type };
    for (var k in data || {}) message[k] = data[k];
    w.parent.postMessage(message, parentOrigin);
    return true;
  }

  function height() {
    var main = d.querySelector("main") || d.body;
    send("resize", { height: Math.max(main.scrollHeight + 48, d.documentElement.scrollHeight) });
  }

  w.BackstopFrame = { send: send, framed: !!(framed && parentOrigin) };
  if (!w.BackstopFrame.framed) return;
  d.documentElement.classList.add("in-frame");

  w.addEventListener("message", function (e) {
    var m = e.data;
    if (e.origin !== parentOrigin || e.source !== w.parent || !m || m.source !== "backstop-host" || m.v !== 1) return;
    if (m.type === "close") d.dispatchEvent(new CustomEvent("backstop:close"));
  });
  d.addEventListener("keydown", function (e) {
    if (e.key === "Escape") send("close", { reason: "escape" });
  });
  d.addEventListener("click", function (e) {
    var el = e.target.closest && e.target.closest("[data-backstop-close]");
    if (el) { e.preventDefault(); send("close", { reason: "done" }); }
  });
  function start() {
    send("ready");
    height();
    if (w.ResizeObserver) new ResizeObserver(height).observe(d.body);
    // A server-rendered outcome page says what happened: <body data-backstop-event="saved" ...>.
    var ev = d.body.getAttribute("data-backstop-event");
    if (ev) {
      var data = {};
      var attrs = d.body.attributes;
      for (var i = 0; i < attrs.length; i++) {
        var n = attrs[i].name;
        if (n.indexOf("data-backstop-") === 0 && n !== "data-backstop-event") data[n.slice(14)] = attrs[i].value;
      }
      send(ev, data);
    }
  }
  if (d.readyState === "loading") d.addEventListener("DOMContentLoaded", start); else start();
})(window, document);
