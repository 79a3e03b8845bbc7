// contextbot dashboard: the only script (CSP script-src 'self'). Progressive enhancement for the queue's bulk
// actions; every page works without it.
(function () {
  "use strict";
  function boxes() { return Array.prototype.slice.call(document.querySelectorAll('#bulk input[name="ids"]')); }
  function update() {
    var n = boxes().filter(function (b) { return b.checked; }).length;
    var label = document.getElementById("selected-count");
    var button = document.getElementById("bulk-submit");
    if (label) { label.textContent = "Selected incidents: " + n; }
    if (button) { button.disabled = n === 0; }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var all = document.getElementById("select-all");
    if (all) {
      all.addEventListener("change", function () {
        boxes().forEach(function (b) { b.checked = all.checked; });
        update();
      });
    }
    boxes().forEach(function (b) { b.addEventListener("change", update); });
    update();
  });
})();
