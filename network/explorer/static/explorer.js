// Live updates without a framework: poll /api/status; when the chain moved (a new `version`),
// fetch this page again and swap its <main>. The server renders (and escapes) everything.
(function () {
  "use strict";
  var live = document.getElementById("live");
  var delay = parseInt(document.body.getAttribute("data-poll-ms"), 10) || 1500;
  var busy = false;

  function mark(text, cls) {
    if (live) { live.textContent = text; live.className = "live " + cls; }
  }

  function current() {
    var main = document.getElementById("main");
    return main ? main.getAttribute("data-version") : null;
  }

  function refresh() {
    return fetch(window.location.href, { headers: { "Accept": "text/html" }, cache: "no-store" })
      .then(function (r) { return r.text(); })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, "text/html");
        var next = doc.getElementById("main");
        var main = document.getElementById("main");
        if (!next || !main) { return; }
        // keep what the reader unfolded: <details> with the same id stay open across the swap
        main.querySelectorAll("details[id][open]").forEach(function (d) {
          var twin = next.querySelector("#" + CSS.escape(d.id));
          if (twin) { twin.setAttribute("open", ""); }
        });
        main.replaceWith(document.importNode(next, true));
      });
  }

  function tick() {
    if (busy) { return; }
    busy = true;
    fetch("/api/status", { cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (s) {
        mark("live · block " + s.block, "on");
        if (String(s.version) !== current()) { return refresh(); }
      })
      .catch(function () { mark("offline", "off"); })
      .then(function () { busy = false; });
  }

  mark("live", "on");
  window.setInterval(tick, delay);
})();
