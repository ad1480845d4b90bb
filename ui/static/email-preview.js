// Live preview on Settings → Email branding: reload the preview frame with the form's values.
(function () {
  "use strict";
  var form = document.getElementById("branding-form");
  var frame = document.getElementById("branding-preview");
  if (!form || !frame) return;
  var timer = null;
  function refresh() {
    var params = new URLSearchParams();
    ["from_name", "reply_to", "brand_color", "footer", "theme"].forEach(function (name) {
      var input = form.elements[name];
      if (input) params.set(name, input.value);
    });
    frame.src = frame.getAttribute("data-base") + "?" + params.toString();
  }
  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  });
})();
