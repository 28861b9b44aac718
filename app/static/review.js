/* The review queue: the header's box selects or clears every item of the page.
   Without JavaScript each item is still selected by its own box. */
(function () {
  "use strict";
  var all = document.getElementById("queue-all");
  var form = document.getElementById("queue-form");
  if (!all || !form) {
    return;
  }
  all.addEventListener("change", function () {
    form.querySelectorAll('input[type="checkbox"][name="item"]').forEach(function (box) {
      box.checked = all.checked;
    });
  });
}());
