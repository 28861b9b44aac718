/* The plan draft page: each task of the form shows and highlights its lines of the source.
   Without JavaScript the "原文第 a–b 行" links still jump to the first line (#Ln). */
(function () {
  "use strict";
  var pane = document.getElementById("draft-source");
  if (!pane) {
    return;
  }

  function highlight(task) {
    pane.querySelectorAll(".src-line.active").forEach(function (el) { el.classList.remove("active"); });
    document.querySelectorAll(".draft-task.active").forEach(function (el) { el.classList.remove("active"); });
    pane.querySelectorAll('.src-line[data-task="' + task + '"]').forEach(function (el) { el.classList.add("active"); });
    var fieldset = document.getElementById("task-" + task);
    if (fieldset) {
      fieldset.classList.add("active");
    }
  }

  function scrollSourceTo(first) {
    var line = document.getElementById("L" + first);
    if (!line) {
      return;
    }
    if (pane.scrollHeight > pane.clientHeight + 4) {
      var top = line.getBoundingClientRect().top - pane.getBoundingClientRect().top + pane.scrollTop;
      pane.scrollTop = Math.max(0, top - 40);
    }
  }

  document.querySelectorAll("a.goto-source").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      highlight(link.dataset.task);
      var line = document.getElementById("L" + link.dataset.first);
      if (pane.scrollHeight > pane.clientHeight + 4) {
        scrollSourceTo(link.dataset.first);
      } else if (line) {
        line.scrollIntoView({block: "start"});
      }
    });
  });

  // editing a task shows its lines in the source pane (when the pane scrolls on its own)
  document.querySelectorAll("fieldset.draft-task").forEach(function (fieldset) {
    fieldset.addEventListener("focusin", function () {
      if (fieldset.classList.contains("active")) {
        return;
      }
      highlight(fieldset.dataset.task);
      if (fieldset.dataset.first) {
        scrollSourceTo(fieldset.dataset.first);
      }
    });
  });

  // clicking a line of a task in the source brings its part of the form into view
  pane.addEventListener("click", function (event) {
    var line = event.target.closest(".src-line[data-task]");
    if (!line) {
      return;
    }
    highlight(line.dataset.task);
    var fieldset = document.getElementById("task-" + line.dataset.task);
    if (fieldset) {
      fieldset.scrollIntoView({block: "start"});
    }
  });

  document.querySelectorAll("form.discard").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm("放弃此草稿？草稿中的修改将不再保留。")) {
        event.preventDefault();
      }
    });
  });
})();
