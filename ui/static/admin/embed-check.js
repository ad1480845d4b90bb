/* Cancel flows → Embed on your site: "Check a token" asks POST /api/v1/embed/check (the token
   is not used up) and shows what Backstop sees, or the reason it refuses the token. */
(function () {
  "use strict";
  var form = document.getElementById("token-check");
  if (!form) return;
  var out = document.getElementById("token-result");

  function line(label, value) {
    var p = document.createElement("p");
    var b = document.createElement("strong");
    b.textContent = label + " ";
    p.appendChild(b);
    p.appendChild(document.createTextNode(value));
    return p;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var token = form.elements.token.value.trim();
    out.textContent = "";
    out.className = "";
    if (!token) { out.appendChild(line("", "Paste a token first.")); return; }
    fetch(form.dataset.endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      credentials: "omit",
      body: JSON.stringify({ token: token })
    }).then(function (r) { return r.json(); }).then(function (body) {
      if (body.valid) {
        out.className = "alert alert-green";
        out.appendChild(line("Valid.", "This token opens a session for " + (body.customer.email || body.customer.id) +
          " (" + body.customer.id + ") in " + body.workspace.name + "."));
        if (body.customer.subscription_id) out.appendChild(line("Subscription:", body.customer.subscription_id));
        out.appendChild(line("Expires:", new Date(body.expires_at * 1000).toLocaleString()));
      } else {
        out.className = "alert alert-red";
        var reason = body.reason || (body.error && body.error.type) || "refused";
        out.appendChild(line("Refused (" + reason + "):", body.message || (body.error && body.error.message) || ""));
      }
    }).catch(function () {
      out.className = "alert alert-red";
      out.appendChild(line("", "Couldn't reach Backstop to check the token."));
    });
  });
})();
