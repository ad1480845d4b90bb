/* A stand-in for the small part of Stripe.js the update-card page uses, for tests only:
   Stripe(pk, {stripeAccount}), elements().create("card").mount(), on("change"), and
   confirmCardSetup(clientSecret, {payment_method: {card}}), which confirms the SetupIntent on the
   fake Stripe with the publishable key, the way the real library does from the browser. */
(function () {
  "use strict";
  var API = "__FAKE_STRIPE_API__";
  var CARDS = {
    "4242424242424242": "pm_card_visa",
    "5555555555554444": "pm_card_mastercard",
    "4000000000009995": "pm_card_chargeCustomerFail_insufficient_funds",
    "4000000000000002": "pm_card_chargeDeclined"
  };

  window.Stripe = function (publishableKey, options) {
    options = options || {};
    if (!/^pk_(test|live)_/.test(publishableKey || "")) {
      throw new Error("Stripe(): a publishable key (pk_…) is required");
    }
    return {
      elements: function () {
        return {
          create: function (type) {
            var input = null;
            var handlers = {};
            return {
              type: type,
              mount: function (target) {
                var host = typeof target === "string" ? document.querySelector(target) : target;
                input = document.createElement("input");
                input.setAttribute("aria-label", "Card number");
                input.setAttribute("inputmode", "numeric");
                input.setAttribute("autocomplete", "cc-number");
                input.style.cssText = "border:0;width:100%;font:inherit;background:transparent;color:inherit";
                input.addEventListener("input", function () {
                  if (handlers.change) handlers.change({ complete: input.value.replace(/\D/g, "").length >= 16 });
                });
                host.appendChild(input);
              },
              on: function (name, fn) { handlers[name] = fn; },
              _number: function () { return input ? input.value.replace(/\D/g, "") : ""; }
            };
          }
        };
      },
      confirmCardSetup: function (clientSecret, data) {
        var card = data && data.payment_method && data.payment_method.card;
        var pm = card && CARDS[card._number()];
        if (!pm) {
          return Promise.resolve({ error: { type: "validation_error", message: "Your card number is incomplete." } });
        }
        var headers = {
          Authorization: "Bearer " + publishableKey,
          "Content-Type": "application/x-www-form-urlencoded"
        };
        if (options.stripeAccount) headers["Stripe-Account"] = options.stripeAccount;
        var id = clientSecret.split("_secret_")[0];
        return fetch(API + "/v1/setup_intents/" + encodeURIComponent(id) + "/confirm", {
          method: "POST",
          headers: headers,
          body: "client_secret=" + encodeURIComponent(clientSecret) + "&payment_method=" + encodeURIComponent(pm)
        }).then(function (response) {
          return response.json().then(function (body) {
            return response.ok ? { setupIntent: body } : { error: body.error };
          });
        });
      }
    };
  };
})();
