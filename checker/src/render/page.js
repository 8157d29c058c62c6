// Interactivity for pages built by checker::render. The page is complete without it: every partition
// is drawn statically; the script adds the partition and partial-linearization selectors, tooltips and
// a status line, and hides what is not selected.
(function () {
  "use strict";
  var body = document.body;
  var sections = Array.prototype.slice.call(document.querySelectorAll("section.partition"));
  var selector = document.getElementById("partition-selector");
  var status = document.getElementById("status");
  var buttons = [];

  function describe(section) {
    var drawn = section.querySelectorAll("g.op").length;
    return "Showing " + section.dataset.label + " (" + section.dataset.verdictName + "): " +
      drawn + " operation" + (drawn === 1 ? "" : "s") + " drawn.";
  }

  // Scrolls a wide timeline so the blocked operation of the shown overlay is in view.
  function scrollToBlocked(section) {
    var scroller = section.querySelector(".timeline-scroll");
    var blocked = section.querySelector("g.partial:not(.hidden) rect.blocked");
    if (!scroller || !blocked) { return; }
    var x = blocked.x.baseVal.value;
    var right = x + blocked.width.baseVal.value;
    if (right > scroller.scrollLeft + scroller.clientWidth) {
      scroller.scrollLeft = Math.max(0, x - scroller.clientWidth * 0.6);
      pinLabels(scroller);
    }
  }

  // Keeps the process labels of a scrolled timeline at its left edge.
  function pinLabels(scroller) {
    var labels = scroller.querySelector("g.labels");
    if (labels) { labels.setAttribute("transform", "translate(" + scroller.scrollLeft + ",0)"); }
  }
  Array.prototype.forEach.call(document.querySelectorAll(".timeline-scroll"), function (scroller) {
    scroller.addEventListener("scroll", function () { pinLabels(scroller); });
  });

  function showPartition(id) {
    sections.forEach(function (s) { s.classList.toggle("hidden", s.id !== id); });
    buttons.forEach(function (b) { b.classList.toggle("selected", b.dataset.target === id); });
    var shown = document.getElementById(id);
    if (shown) { scrollToBlocked(shown); }
    if (status && shown) { status.textContent = describe(shown); }
  }

  if (selector && sections.length > 0) {
    sections.forEach(function (section) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "partition-button " + section.dataset.verdict;
      button.dataset.target = section.id;
      button.textContent = section.dataset.label + " \u2014 " + section.dataset.verdictName;
      button.addEventListener("click", function () { showPartition(section.id); });
      selector.appendChild(button);
      buttons.push(button);
    });
    var wanted = window.location.hash.replace(/^#/, "");
    var first = sections.some(function (s) { return s.id === wanted; }) ? wanted : sections[0].id;
    showPartition(first);
    Array.prototype.forEach.call(document.querySelectorAll("a.partition-link"), function (link) {
      link.addEventListener("click", function (event) {
        event.preventDefault();
        showPartition(link.getAttribute("href").replace(/^#/, ""));
        selector.scrollIntoView({ behavior: "smooth" });
      });
    });
  }

  // Partial linearization selectors: one button per overlay of a partition.
  sections.forEach(function (section) {
    var overlays = Array.prototype.slice.call(section.querySelectorAll("g.partial"));
    var tables = Array.prototype.slice.call(section.querySelectorAll("table.steps"));
    var holder = section.querySelector(".partial-selector");
    if (!holder || overlays.length === 0) { return; }
    var partialButtons = [];
    function showPartial(k) {
      overlays.forEach(function (g) { g.classList.toggle("hidden", g.dataset.partial !== k); });
      tables.forEach(function (t) { t.classList.toggle("hidden", t.dataset.partial !== k); });
      partialButtons.forEach(function (b) { b.classList.toggle("selected", b.dataset.partial === k); });
      scrollToBlocked(section);
    }
    overlays.forEach(function (g) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "partial-button";
      button.dataset.partial = g.dataset.partial;
      button.textContent = "partial linearization " + (Number(g.dataset.partial) + 1) + ": " + g.dataset.summary;
      button.addEventListener("click", function () { showPartial(g.dataset.partial); });
      holder.appendChild(button);
      partialButtons.push(button);
    });
    showPartial(overlays[0].dataset.partial);
  });

  // Tooltips from data-tip (the SVG <title> elements stay as the no-script fallback).
  var tooltip = document.getElementById("tooltip");
  if (tooltip) {
    document.addEventListener("mouseover", function (event) {
      var target = event.target.closest ? event.target.closest("[data-tip]") : null;
      if (!target) { tooltip.classList.add("hidden"); return; }
      tooltip.textContent = target.getAttribute("data-tip");
      tooltip.classList.remove("hidden");
    });
    document.addEventListener("mousemove", function (event) {
      tooltip.style.left = Math.min(event.clientX + 14, window.innerWidth - 540) + "px";
      tooltip.style.top = (event.clientY + 16) + "px";
    });
  }
  body.dataset.rendered = "yes";
})();
// With the script tooltip in place, the native <title> tooltips would show twice.
Array.prototype.forEach.call(document.querySelectorAll("[data-tip] > title"), function (title) {
  title.parentNode.removeChild(title);
});
