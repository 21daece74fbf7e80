/* tm-docs: the data-flow diagram's scroll cue and its full-screen viewer.
   No dependencies. The viewer shows the diagram (a copy of the drawing the page
   loaded, or else the file as an image) inside an SVG of its own and pans and
   zooms by changing that SVG's viewBox. */
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";

  function frameState(frame) {
    var scrolls = frame.scrollWidth > frame.clientWidth + 1;
    frame.parentNode.classList.toggle("tm-dfd--scrolls", scrolls);
  }

  function centre(frame) {
    // Open on the middle of the drawing, not on its (often empty) left edge.
    frame.scrollLeft = Math.max(0, (frame.scrollWidth - frame.clientWidth) / 2);
    frameState(frame);
  }

  function picture(figure, src, w, h) {
    // The drawing the page has loaded already, when it can be had: its icons are
    // files of the site, which an SVG shown as an image does not load.
    var object = figure.querySelector("object");
    var drawing = null;
    try {
      drawing = object && object.contentDocument && object.contentDocument.documentElement;
    } catch (e) {
      drawing = null;
    }
    if (drawing && drawing.namespaceURI === NS && drawing.localName === "svg") {
      var copy = document.importNode(drawing, true);
      copy.setAttribute("x", "0");
      copy.setAttribute("y", "0");
      copy.setAttribute("width", String(w));
      copy.setAttribute("height", String(h));
      return copy;
    }
    var image = document.createElementNS(NS, "image");
    image.setAttribute("href", src);
    image.setAttribute("width", String(w));
    image.setAttribute("height", String(h));
    return image;
  }

  function openViewer(figure) {
    var src = figure.getAttribute("data-src");
    var w = parseFloat(figure.getAttribute("data-width"));
    var h = parseFloat(figure.getAttribute("data-height"));
    var opener = document.activeElement;
    var overlay = document.createElement("div");
    overlay.className = "tm-viewer";
    overlay.setAttribute("role", "dialog");
    overlay.setAttribute("aria-modal", "true");
    overlay.setAttribute("aria-label", figure.getAttribute("data-label") || "Diagram");
    var bar = document.createElement("div");
    bar.className = "tm-viewer__bar";
    function button(label, title, action) {
      var b = document.createElement("button");
      b.type = "button";
      b.textContent = label;
      b.title = title;
      b.setAttribute("aria-label", title);
      b.addEventListener("click", action);
      bar.appendChild(b);
      return b;
    }
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("class", "tm-viewer__canvas");
    svg.appendChild(picture(figure, src, w, h));
    var view = { x: 0, y: 0, w: w, h: h };

    function apply() {
      svg.setAttribute("viewBox", [view.x, view.y, view.w, view.h].join(" "));
    }
    function fit() {
      view = { x: 0, y: 0, w: w, h: h };
      var box = svg.getBoundingClientRect();
      if (box.width && box.height) {
        // Keep the aspect of the screen so zooming stays around the pointer.
        var scale = Math.max(w / box.width, h / box.height);
        view.w = box.width * scale;
        view.h = box.height * scale;
        view.x = (w - view.w) / 2;
        view.y = (h - view.h) / 2;
      }
      apply();
    }
    function zoom(factor, cx, cy) {
      var box = svg.getBoundingClientRect();
      var px = cx === undefined ? 0.5 : (cx - box.left) / box.width;
      var py = cy === undefined ? 0.5 : (cy - box.top) / box.height;
      var nw = view.w * factor;
      var nh = view.h * factor;
      view.x += (view.w - nw) * px;
      view.y += (view.h - nh) * py;
      view.w = nw;
      view.h = nh;
      apply();
    }
    function close() {
      document.removeEventListener("keydown", onKey, true);
      overlay.remove();
      document.documentElement.classList.remove("tm-viewer-open");
      if (opener && opener.focus) opener.focus();
    }
    function onKey(event) {
      if (event.key === "Escape") {
        event.stopPropagation();
        close();
      } else if (event.key === "+" || event.key === "=") {
        zoom(0.8);
      } else if (event.key === "-") {
        zoom(1.25);
      }
    }
    button("+", "Zoom in", function () { zoom(0.8); });
    button("−", "Zoom out", function () { zoom(1.25); });
    button("Fit", "Fit to screen", fit);
    var closer = button("✕ Close", "Close the full-screen diagram (Escape)", close);
    closer.className = "tm-viewer__close";

    svg.addEventListener("wheel", function (event) {
      event.preventDefault();
      zoom(event.deltaY > 0 ? 1.15 : 1 / 1.15, event.clientX, event.clientY);
    }, { passive: false });
    var drag = null;
    svg.addEventListener("pointerdown", function (event) {
      drag = { x: event.clientX, y: event.clientY };
      svg.setPointerCapture(event.pointerId);
    });
    svg.addEventListener("pointermove", function (event) {
      if (!drag) return;
      var box = svg.getBoundingClientRect();
      view.x -= (event.clientX - drag.x) * view.w / box.width;
      view.y -= (event.clientY - drag.y) * view.h / box.height;
      drag = { x: event.clientX, y: event.clientY };
      apply();
    });
    svg.addEventListener("pointerup", function () { drag = null; });
    svg.addEventListener("pointercancel", function () { drag = null; });

    overlay.appendChild(bar);
    overlay.appendChild(svg);
    document.body.appendChild(overlay);
    document.documentElement.classList.add("tm-viewer-open");
    document.addEventListener("keydown", onKey, true);
    fit();
    closer.focus();
  }

  function reveal() {
    // A link to a row of a folded list (an owner's backlog, a heatmap cell) unfolds it.
    // Chromium does this by itself; other browsers need the help.
    var id = window.location.hash.slice(1);
    var target = null;
    try {
      target = id && document.getElementById(decodeURIComponent(id));
    } catch (e) {
      target = null;
    }
    var opened = false;
    for (var node = target; node; node = node.parentElement) {
      if (node.localName === "details" && !node.open) {
        node.open = true;
        opened = true;
      }
    }
    if (opened) target.scrollIntoView();
  }

  function init() {
    reveal();
    var figures = document.querySelectorAll("figure.tm-dfd[data-src]");
    Array.prototype.forEach.call(figures, function (figure) {
      if (figure.getAttribute("data-ready")) return;
      figure.setAttribute("data-ready", "1");
      var frame = figure.querySelector(".tm-dfd__frame");
      var open = figure.querySelector(".tm-dfd__open");
      if (open) {
        open.hidden = false;
        open.addEventListener("click", function () { openViewer(figure); });
      }
      if (frame) {
        centre(frame);
        frame.addEventListener("scroll", function () { frameState(frame); });
        window.addEventListener("resize", function () { frameState(frame); });
      }
    });
  }

  window.addEventListener("hashchange", reveal);
  if (window.document$ && window.document$.subscribe) {
    window.document$.subscribe(init);  // mkdocs-material's instant navigation
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
