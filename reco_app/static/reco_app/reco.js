/* reco_app tracking: recommendation impressions and clicks, dwell time.
 * Dependency-free. Loaded by {% reco_tracking_script %}; does nothing without consent.
 * Events are batched and sent with navigator.sendBeacon (fetch keepalive as fallback)
 * to the same-site beacon endpoint, with the CSRF token in the payload.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || script.dataset.consent !== "granted") return;
  var endpoint = script.dataset.endpoint;
  var csrf = script.dataset.csrf;
  var pageProduct = script.dataset.product || null;
  var MAX_BATCH = 20;
  var FLUSH_MS = 5000;
  var queue = [];
  var timer = null;

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "10000000-1000-4000-8000-100000000000".replace(/[018]/g, function (c) {
      return (c ^ (Math.random() * 16) >> (c / 4)).toString(16);
    });
  }

  function push(type, product, value, context) {
    queue.push({
      event_id: uuid(), event_type: type, product: product || undefined,
      value: value === undefined ? null : value, context: context || {}
    });
    if (queue.length >= MAX_BATCH) flush();
    else if (!timer) timer = setTimeout(flush, FLUSH_MS);
  }

  function flush() {
    if (timer) { clearTimeout(timer); timer = null; }
    while (queue.length) {
      var body = JSON.stringify({ csrf: csrf, events: queue.splice(0, MAX_BATCH) });
      var sent = false;
      if (navigator.sendBeacon) {
        try { sent = navigator.sendBeacon(endpoint, new Blob([body], { type: "text/plain;charset=UTF-8" })); }
        catch (e) { sent = false; }
      }
      if (!sent && window.fetch) {
        fetch(endpoint, { method: "POST", body: body, keepalive: true, credentials: "same-origin",
          headers: { "Content-Type": "text/plain;charset=UTF-8" } }).catch(function () {});
      }
    }
  }

  // The card's own 1-based position in its list (data-reco-position, as in its rec token),
  // not its index among its siblings; null when the card does not say.
  function cardContext(card) {
    var position = parseInt(card.dataset.recoPosition, 10);
    return {
      rec_token: card.dataset.recoToken || "",
      placement: card.dataset.recoPlacement || "",
      position: isNaN(position) ? null : position
    };
  }

  // Impressions: a card counts once, when at least half of it has been visible.
  var seen = new WeakSet();
  var observer = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      var card = entry.target;
      if (entry.isIntersecting && !seen.has(card)) {
        seen.add(card);
        observer.unobserve(card);
        push("rec_impression", card.dataset.recoProduct, null, cardContext(card));
      }
    });
  }, { threshold: 0.5 }) : null;

  function observeCards(root) {
    if (!observer) return;
    (root.querySelectorAll ? root : document).querySelectorAll(".reco-card").forEach(function (card) {
      if (!seen.has(card)) observer.observe(card);
    });
  }
  observeCards(document);
  if ("MutationObserver" in window) {
    new MutationObserver(function () { observeCards(document); })
      .observe(document.body, { childList: true, subtree: true });
  }

  // Clicks on recommendation cards (the link itself carries ?rt=<token> for the server).
  document.addEventListener("click", function (event) {
    var card = event.target.closest && event.target.closest(".reco-card");
    if (card) {
      push("rec_click", card.dataset.recoProduct, null, cardContext(card));
      flush();
    }
  }, true);

  // Dwell time: seconds the page was visible, sent when the visitor leaves or hides it.
  var visibleSince = document.visibilityState === "visible" ? Date.now() : null;
  var dwellMs = 0;
  function pauseDwell() {
    if (visibleSince !== null) { dwellMs += Date.now() - visibleSince; visibleSince = null; }
  }
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      pauseDwell();
      if (dwellMs >= 1000) {
        push("dwell", pageProduct, Math.min(Math.round(dwellMs / 100) / 10, 86400), { path: location.pathname });
        dwellMs = 0;
      }
      flush();
    } else {
      visibleSince = Date.now();
    }
  });
  window.addEventListener("pagehide", function () { pauseDwell(); flush(); });
})();
