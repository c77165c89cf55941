// Small enhancements; every page works without JavaScript.
(function () {
  "use strict";
  // Hearts: like or unlike without reloading the page (the form posts normally without JavaScript).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("heart-form")) return;
    event.preventDefault();
    var button = form.querySelector("button");
    fetch(form.action, {
      method: "POST",
      body: new FormData(form),
      headers: { "X-Requested-With": "fetch" },
      credentials: "same-origin",
    }).then(function (response) {
      if (response.redirected && response.url.indexOf("/signin") !== -1) {
        window.location = response.url;
        return;
      }
      if (!response.ok) throw new Error("status " + response.status);
      var liked = button.getAttribute("aria-pressed") !== "true";
      button.setAttribute("aria-pressed", liked ? "true" : "false");
      button.setAttribute("aria-label", (liked ? "Remove from" : "Add to") + " favourites");
      button.textContent = liked ? "\u2665" : "\u2661";
    }).catch(function () { form.submit(); });
  });
  // Quantity inputs in the cart submit their form when changed.
  document.querySelectorAll("input[data-autosubmit]").forEach(function (input) {
    input.addEventListener("change", function () { input.form.requestSubmit(); });
  });
})();
