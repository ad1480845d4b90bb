/* Backstop embed: window.Backstop.cancel(opts), .portal(opts), .paymentWall(opts).
   Opens Backstop's hosted pages in a modal iframe and reports back through callbacks.
   Dependency-free, safe to load async; calls made before it loads wait in Backstop.q. */
(function (w, d) {
  "use strict";
  var prior = w.Backstop;
  if (prior && prior.version) return;
  var queue = (prior && prior.q) || [];
  var script = d.currentScript || d.querySelector('script[src*="/embed.js"]');
  var base = new URL(script ? script.src : "/", w.location.href).origin;
  var here = w.location.origin;
  var open = null;
  var DEFAULT_ERROR = "Something went wrong. Please try again.";

  function call(opts, name, arg) {
    try { if (opts && typeof opts[name] === "function") opts[name](arg); } catch (e) { setTimeout(function () { throw e; }); }
  }

  function token(opts) {
    var t = opts && opts.token;
    return Promise.resolve(typeof t === "function" ? t() : t).then(function (value) {
      if (typeof value !== "string" || !value) throw new Error("Backstop: opts.token must be a signed token (or a function returning a promise of one).");
      return value;
    });
  }

  function css(el, styles) { for (var k in styles) el.style[k] = styles[k]; return el; }

  function reduced() { return !!(w.matchMedia && w.matchMedia("(prefers-reduced-motion: reduce)").matches); }

  function hostedUrl(path, tok) {
    return base + path + encodeURIComponent(tok) + "?embed=1&origin=" + encodeURIComponent(here);
  }

  function close(reason) {
    if (!open) return;
    var o = open;
    open = null;
    try { o.frame.contentWindow.postMessage({ source: "backstop-host", v: 1, type: "close" }, base); } catch (e) { /* gone */ }
    w.removeEventListener("message", o.onMessage);
    d.removeEventListener("keydown", o.onKey, true);
    d.removeEventListener("focusin", o.onFocus, true);
    o.root.parentNode && o.root.parentNode.removeChild(o.root);
    d.documentElement.style.overflow = o.overflow;
    if (o.returnFocus && o.returnFocus.focus) o.returnFocus.focus();
    if (reason !== "replaced") call(o.opts, "onClose", { reason: reason });
  }

  function modal(url, opts, label, blocking, isWall) {
    close("replaced");
    var root = css(d.createElement("div"), {
      position: "fixed", inset: "0", zIndex: "2147483646", background: "rgba(15,23,42,.55)",
      display: "flex", alignItems: "center", justifyContent: "center", padding: "0"
    });
    root.setAttribute("data-backstop", "modal");
    var box = css(d.createElement("div"), {
      position: "relative", width: "100%", maxWidth: "560px", maxHeight: "100%", display: "flex",
      flexDirection: "column", background: "#fff", borderRadius: "12px", overflow: "hidden",
      boxShadow: "0 20px 60px rgba(0,0,0,.3)", transform: "translateY(8px)", opacity: "0",
      transition: reduced() ? "none" : "opacity .18s ease, transform .18s ease"
    });
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-modal", "true");
    box.setAttribute("aria-label", label);
    var btn = css(d.createElement("button"), {
      position: "absolute", top: "6px", right: "6px", width: "36px", height: "36px", border: "0",
      borderRadius: "18px", background: "rgba(255,255,255,.9)", color: "#111", font: "22px/1 sans-serif", cursor: "pointer"
    });
    btn.type = "button";
    btn.textContent = "\u00d7";
    btn.setAttribute("aria-label", "Close");
    btn.setAttribute("data-backstop", "close");
    if (blocking) btn.hidden = true;
    var frame = css(d.createElement("iframe"), { border: "0", width: "100%", height: "420px", maxHeight: "calc(100vh - 24px)", display: "block" });
    frame.title = label;
    frame.src = url;
    box.appendChild(frame);
    box.appendChild(btn);
    root.appendChild(box);
    var o = { root: root, frame: frame, opts: opts, overflow: d.documentElement.style.overflow, returnFocus: d.activeElement };
    o.onMessage = function (e) {
      var m = e.data;
      if (e.origin !== base || e.source !== frame.contentWindow || !m || m.source !== "backstop" || m.v !== 1) return;
      if (m.type === "ready") { btn.focus(); frame.focus(); }
      else if (m.type === "resize" && m.height > 0) frame.style.height = Math.ceil(m.height) + "px";
      else if (m.type === "saved") call(opts, "onSaved", { outcome: m.outcome, offer: m.offer || null });
      else if (m.type === "canceled") call(opts, "onCanceled", { outcome: m.outcome || "canceled" });
      else if (m.type === "error") call(opts, "onError", new Error(m.message || DEFAULT_ERROR));
      else if (m.type === "recovered") { call(opts, "onRecovered", {}); if (isWall) setTimeout(function () { if (open === o) close("recovered"); }, 1200); }
      else if (m.type === "close" && !(blocking && m.reason === "escape")) close(m.reason || "done");
    };
    o.onKey = function (e) {
      if (e.key === "Escape" && !blocking) { e.preventDefault(); close("escape"); }
      else if (e.key === "Tab") {
        e.preventDefault();
        (d.activeElement === frame ? (blocking ? frame : btn) : frame).focus();
      }
    };
    o.onFocus = function (e) { if (!box.contains(e.target)) { e.stopPropagation(); frame.focus(); } };
    btn.addEventListener("click", function () { close("button"); });
    root.addEventListener("click", function (e) { if (e.target === root && !blocking) close("backdrop"); });
    w.addEventListener("message", o.onMessage);
    d.addEventListener("keydown", o.onKey, true);
    d.addEventListener("focusin", o.onFocus, true);
    d.documentElement.style.overflow = "hidden";
    d.body.appendChild(root);
    open = o;
    requestAnimationFrame(function () { css(box, { opacity: "1", transform: "none" }); });
    frame.focus();
    return o;
  }

  function fail(opts, err) {
    if (opts && typeof opts.onError === "function") call(opts, "onError", err);
    else if (w.console) w.console.error(err);
  }

  function hosted(path, label) {
    return function (opts) {
      opts = opts || {};
      return token(opts).then(function (tok) {
        if (opts.mode === "redirect") {
          var go = opts.url ? Promise.resolve(typeof opts.url === "function" ? opts.url(tok) : opts.url) : Promise.resolve(base + path + encodeURIComponent(tok));
          return go.then(function (u) { w.location.assign(u); });
        }
        modal(hostedUrl(path, tok), opts, label, false);
      }).catch(function (err) { fail(opts, err); });
    };
  }

  function paymentWall(opts) {
    opts = opts || {};
    return token(opts).then(function (tok) {
      // text/plain keeps this a simple request: no preflight, one round trip.
      return fetch(base + "/wall/check", { method: "POST", mode: "cors", credentials: "omit", headers: { "Content-Type": "text/plain" }, body: JSON.stringify({ token: tok }) });
    }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body.message || DEFAULT_ERROR);
        return body;
      });
    }).then(function (body) {
      if (!body.show) return body;
      modal(base + body.path + "?embed=1&origin=" + encodeURIComponent(here), opts, "Payment problem", body.mode === "blocking", true);
      return body;
    }).catch(function (err) {
      fail(opts, err && err.message ? err : new Error("Backstop couldn't check the payment status; is " + here + " listed under Settings \u2192 Embed?"));
    });
  }

  var api = {
    version: 1,
    cancel: hosted("/cancel/", "Cancel subscription"),
    portal: hosted("/portal/", "Manage subscription"),
    paymentWall: paymentWall,
    close: function () { close("api"); }
  };
  w.Backstop = api;
  for (var i = 0; i < queue.length; i++) {
    var item = queue[i];
    if (item && typeof api[item[0]] === "function") api[item[0]].apply(null, item[1] || []);
  }
})(window, document);
