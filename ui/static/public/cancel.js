/* The hosted cancel flow: one answer per page. After the first tap the form's buttons are
   disabled (once the browser has taken the tapped button's value), so a double tap can't send
   a second answer; the server ignores a repeated one anyway. */
(function (d) {
  "use strict";
  d.addEventListener("submit", function (e) {
    var form = e.target;
    if (form.getAttribute("data-sent")) { e.preventDefault(); return; }
    form.setAttribute("data-sent", "1");
    setTimeout(function () {
      var buttons = form.querySelectorAll("button");
      for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
    }, 0);
  });
})(document);
