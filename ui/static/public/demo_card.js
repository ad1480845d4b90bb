/* The demo's card form (served only by `backstop demo`, whose update-card pages load it instead of
   Stripe.js). It offers the small part of Stripe.js that update_card.js uses: Stripe(pk),
   elements().create("card").mount(), on("change") and confirmCardSetup(clientSecret, ...). The
   card is one labelled field that takes Stripe's test card numbers; confirming sends the matching
   test card to the demo's Stripe stand-in inside Backstop, with the publishable key and the
   SetupIntent's client secret, as Stripe.js would send them to Stripe. Nothing leaves the machine. */
(function () {
  "use strict";
  var API = "/demo-stripe/v1";
  var TEST_CARDS = {
    "4242424242424242": "pm_card_visa",
    "5555555555554444": "pm_card_mastercard",
    "4000000000009995": "pm_card_chargeCustomerFail_insufficient_funds",
    "4000000000000002": "pm_card_chargeDeclined"
  };

  window.Stripe = function (publishableKey) {
    return {
      elements: function () {
        return {
          create: function () {
            var input = null;
            var handlers = {};
            return {
              mount: function (target) {
                var host = typeof target === "string" ? document.querySelector(target) : target;
                input = document.createElement("input");
                input.className = "demo-card-input";
                input.setAttribute("aria-label", "Demo card number");
                input.setAttribute("aria-describedby", "uc-demo-note");
                input.setAttribute("inputmode", "numeric");
                input.setAttribute("autocomplete", "off");
                input.setAttribute("placeholder", "4242 4242 4242 4242");
                input.addEventListener("input", function () {
                  var digits = input.value.replace(/\D/g, "").slice(0, 16);
                  input.value = digits.replace(/(\d{4})(?=\d)/g, "$1 ");
                  if (handlers.change) handlers.change({ complete: digits.length === 16 });
                });
                host.appendChild(input);
              },
              on: function (name, fn) { handlers[name] = fn; },
              number: function () { return input ? input.value.replace(/\D/g, "") : ""; }
            };
          }
        };
      },
      confirmCardSetup: function (clientSecret, data) {
        var card = data && data.payment_method && data.payment_method.card;
        var number = card ? card.number() : "";
        var testCard = TEST_CARDS[number];
        if (!testCard) {
          return Promise.resolve({ error: { type: "validation_error", message: number.length < 16
            ? "Your card number is incomplete."
            : "The demo takes Stripe's test cards only: try 4242 4242 4242 4242." } });
        }
        var id = clientSecret.split("_secret_")[0];
        return fetch(API + "/setup_intents/" + encodeURIComponent(id) + "/confirm", {
          method: "POST",
          credentials: "omit",
          headers: { Authorization: "Bearer " + publishableKey, "Content-Type": "application/x-www-form-urlencoded" },
          body: "client_secret=" + encodeURIComponent(clientSecret) + "&payment_method=" + encodeURIComponent(testCard)
        }).then(function (response) {
          return response.json().then(function (body) {
            return response.ok ? { setupIntent: body } : { error: body.error };
          });
        });
      }
    };
  };
})();
