/* The update-card page: mount Stripe's card field, confirm the SetupIntent, tell Backstop, then
   wait (with a deadline) until the payment is settled. Every wait ends in words, never a spinner. */
(function () {
  "use strict";
  var form = document.getElementById("uc-form");
  if (!form) return;
  var button = document.getElementById("uc-submit");
  var message = document.getElementById("uc-message");
  var done = document.getElementById("uc-done");
  var retry = document.getElementById("uc-retry");
  var label = button.textContent;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var REQUEST_TIMEOUT = 20000;
  var POLL_EVERY = 2000;
  var POLL_FOR = 45000;

  function say(text, kind) {
    message.textContent = text || "";
    message.className = "message" + (kind ? " " + kind : "");
  }

  function busy(on, text) {
    button.disabled = on;
    button.textContent = on ? text : label;
  }

  function offerRetry(text) {
    busy(false);
    form.hidden = false;
    button.hidden = true;
    say(text, "bad");
    retry.hidden = false;
  }

  function succeeded() {
    form.hidden = true;
    retry.hidden = true;
    done.hidden = false;
    var heading = done.querySelector("h1");
    heading.setAttribute("tabindex", "-1");
    heading.focus();
  }

  document.getElementById("uc-again").addEventListener("click", function () {
    window.location.reload();
  });

  function withTimeout(promise, ms) {
    return new Promise(function (resolve, reject) {
      var timer = setTimeout(function () { reject(new Error("timeout")); }, ms);
      promise.then(
        function (value) { clearTimeout(timer); resolve(value); },
        function (err) { clearTimeout(timer); reject(err); }
      );
    });
  }

  function request(url, options) {
    return withTimeout(fetch(url, options), REQUEST_TIMEOUT).then(function (response) {
      return response.json().catch(function () { return { state: "error" }; }).then(function (body) {
        body.httpStatus = response.status;
        return body;
      });
    });
  }

  if (typeof window.Stripe !== "function") {
    say("We couldn't load the secure card form. Check your connection and reload this page.", "bad");
    return;
  }

  var options = {};
  if (form.dataset.account) options.stripeAccount = form.dataset.account;
  var stripe = window.Stripe(form.dataset.pk, options);
  var card = stripe.elements().create("card", { hidePostalCode: false });
  card.mount("#uc-card");
  if (card.on) {
    card.on("change", function (event) {
      say(event && event.error ? event.error.message : "", event && event.error ? "bad" : "");
    });
  }
  button.disabled = false;

  function settle(answer) {
    if (answer.state === "paid" || answer.state === "saved") return succeeded();
    if (answer.state === "declined") {
      return offerRetry(
        "Your new card is saved, but " + (answer.message || "the bank declined the charge.").replace(/^Your/, "your") +
        " Please try a different card."
      );
    }
    if (answer.state === "closed") {
      return offerRetry("This payment request is closed; there's nothing more to pay here.");
    }
    if (answer.state === "expired" || answer.state === "invalid" || answer.state === "error") {
      // Only the server's own words may say whether anything was charged: it knows, we don't.
      return offerRetry(answer.message ||
        "Something went wrong on our side. Reload this page to see where your payment stands.");
    }
    return poll(Date.now() + POLL_FOR, answer.state === "checking" ? answer.message : "");
  }

  function poll(deadline, checking) {
    busy(true, checking ? "Checking your payment…" : "Waiting for your bank…");
    say(checking || "Your card is saved. Waiting for the payment to go through…");
    if (Date.now() > deadline) {
      busy(false);
      button.hidden = true;
      say(checking
        ? "We couldn't confirm your payment yet. There's nothing more you need to do now: we'll email you " +
          "once it's settled, and reloading this page shows where it stands."
        : "Your new card is saved, but your bank hasn't answered yet. There's nothing more you need to do: " +
          "we'll email you as soon as the payment goes through.", "good");
      return;
    }
    setTimeout(function () {
      request(form.dataset.status, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (answer) {
          if (answer.state === "waiting") return poll(deadline, checking);
          settle(answer);
        })
        .catch(function () { poll(deadline, checking); });
    }, POLL_EVERY);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (button.disabled) return;
    busy(true, "Checking your card…");
    say("");
    withTimeout(stripe.confirmCardSetup(form.dataset.secret, { payment_method: { card: card } }), 60000)
      .then(function (result) {
        if (result.error) {
          busy(false);
          say(result.error.message || "Your card couldn't be added. Please check the details and try again.", "bad");
          return;
        }
        busy(true, form.dataset.amount ? "Paying " + form.dataset.amount + "…" : "Saving your card…");
        return request(form.dataset.confirm, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", Accept: "application/json", "x-csrftoken": csrf },
          body: JSON.stringify({ setup_intent: result.setupIntent.id })
        }).then(settle);
      })
      .catch(function () {
        offerRetry("We couldn't reach the payment service. Check your connection, then reload this page to see where your payment stands.");
      });
  });
})();
