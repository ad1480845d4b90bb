/* The payment wall polls a tiny status endpoint and, once the invoice is paid (by a card update
   here, a retry, or any other path), says so and tells the founder's app. */
(function () {
  "use strict";
  var wall = document.getElementById("wall");
  if (!wall) return;
  var url = wall.getAttribute("data-status");
  var every = 3000;
  function done() {
    wall.hidden = true;
    document.getElementById("wall-done").hidden = false;
    if (window.BackstopFrame) window.BackstopFrame.send("recovered", {});
  }
  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "omit", cache: "no-store" })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        if (body.state === "settled") return done();
        if (body.state === "due") setTimeout(poll, every);
      })
      .catch(function () { setTimeout(poll, every * 2); });
  }
  setTimeout(poll, every);
})();
