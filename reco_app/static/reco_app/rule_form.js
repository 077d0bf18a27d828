/* Rule admin form: show only the action parameters the chosen action uses. */
(function () {
  "use strict";
  var PARAMS = {
    pin: ["position", "pin_product_key"],
    boost: ["factor", "additive"],
    bury: ["factor", "additive"],
    cap: ["cap_count", "cap_by"],
    exclude: [],
    filter: []
  };
  var ALL = ["position", "pin_product_key", "factor", "additive", "cap_count", "cap_by"];

  function update(select) {
    var wanted = PARAMS[select.value] || ALL;
    ALL.forEach(function (name) {
      var box = document.querySelector(".field-" + name);
      if (!box) return;
      var hasError = box.querySelector(".errorlist");
      box.style.display = wanted.indexOf(name) >= 0 || hasError ? "" : "none";
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("id_action");
    if (!select) return;
    select.addEventListener("change", function () { update(select); });
    update(select);
  });
})();
