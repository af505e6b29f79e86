/* supportloop chat widget: <script src="https://YOUR-API/widget.js" defer></script>
 * Adds a chat box to the page. Messages go to POST /api/v1/chat on the same server the
 * script came from; every answer gets "Was this helpful?" thumbs that POST the vote to
 * /api/v1/ai/feedback with the answer's signature, then a thank-you.
 * Optional: <div id="supportloop-chat"></div> places the box inline instead of floating. */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = script && script.src ? new URL(script.src).origin : window.location.origin;
  var KEY = "supportloop.session";

  function sessionId() {
    var id = null;
    try { id = window.localStorage.getItem(KEY); } catch (e) { /* storage blocked */ }
    if (!id || !/^[A-Za-z0-9_-]{8,100}$/.test(id)) {
      var bytes = new Uint8Array(16);
      window.crypto.getRandomValues(bytes);
      id = "w" + Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
      try { window.localStorage.setItem(KEY, id); } catch (e) { /* keep it for this page only */ }
    }
    return id;
  }

  var state = { session: sessionId(), conversation: null, busy: false };

  var css = "" +
    ".sl-box{font-family:system-ui,-apple-system,Segoe UI,Roboto,Arial,sans-serif;width:340px;max-width:100%;" +
    "background:#fff;border:1px solid #ddd;border-radius:12px;box-shadow:0 4px 18px rgba(0,0,0,.12);" +
    "display:flex;flex-direction:column;overflow:hidden;font-size:14px;color:#222}" +
    ".sl-float{position:fixed;right:20px;bottom:20px;z-index:2147483000}" +
    ".sl-head{background:#b33a1f;color:#fff;padding:10px 14px;font-weight:600}" +
    ".sl-log{height:320px;overflow-y:auto;padding:10px;background:#fafafa}" +
    ".sl-msg{margin:6px 0;padding:8px 10px;border-radius:10px;max-width:85%;line-height:1.4;white-space:pre-wrap}" +
    ".sl-user{background:#e9eef7;margin-left:auto}.sl-bot{background:#fff;border:1px solid #eee}" +
    ".sl-fb{font-size:12px;color:#555;margin:2px 0 10px}" +
    ".sl-fb button{background:none;border:1px solid #ccc;border-radius:6px;margin-left:6px;cursor:pointer;" +
    "color:#555;padding:3px 8px;line-height:0;vertical-align:middle}" +
    ".sl-fb button:hover,.sl-fb button:focus-visible{color:#b33a1f;border-color:#b33a1f}" +
    ".sl-icon{display:inline-block;width:16px;height:16px}" +
    ".sl-form{display:flex;border-top:1px solid #eee}" +
    ".sl-form input{flex:1;border:0;padding:10px;font:inherit;outline:none}" +
    ".sl-form button{border:0;background:#b33a1f;color:#fff;padding:0 16px;cursor:pointer;font:inherit}" +
    ".sl-err{color:#a00;font-size:12px;margin:4px 0}";

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function post(path, body) {
    return fetch(base + path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) { throw new Error((data && data.detail && typeof data.detail === "string") ? data.detail : "HTTP " + r.status); }
        return data;
      });
    });
  }

  // Material Design thumb icons (Apache 2.0) as inline SVG: no emoji font needed
  var THUMBS = {
    up: "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 " +
      "7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z",
    down: "M15 3H6c-.83 0-1.54.5-1.84 1.22l-3.02 7.05c-.09.23-.14.47-.14.73v2c0 1.1.9 2 2 2h6.31l-.95 " +
      "4.57-.03.32c0 .41.17.79.44 1.06L9.83 23l6.59-6.59c.36-.36.58-.86.58-1.41V5c0-1.1-.9-2-2-2zm4 0v12h4V3h-4z"
  };

  function icon(name) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "16");
    svg.setAttribute("height", "16");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "sl-icon");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", THUMBS[name]);
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }

  function feedbackRow(answer) {
    var row = el("div", "sl-fb");
    row.setAttribute("data-message-id", String(answer.message_id));
    row.appendChild(document.createTextNode("Was this helpful?"));
    [["up", "Yes, helpful"], ["down", "No, not helpful"]].forEach(function (v) {
      var b = el("button", "sl-vote-" + v[0]);
      b.type = "button";
      b.title = v[1];
      b.setAttribute("aria-label", v[1]);
      b.appendChild(icon(v[0]));
      b.addEventListener("click", function () {
        row.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
        post("/api/v1/ai/feedback", { message_id: answer.message_id, vote: v[0], sig: answer.feedback_sig })
          .then(function () { row.textContent = "Thanks for your feedback!"; row.className = "sl-fb sl-thanks"; })
          .catch(function (e) {
            row.querySelectorAll("button").forEach(function (x) { x.disabled = false; });
            row.appendChild(el("div", "sl-err", "Could not send: " + e.message));
          });
      });
      row.appendChild(b);
    });
    return row;
  }

  function mount() {
    var style = el("style");
    style.textContent = css;
    document.head.appendChild(style);
    var host = document.getElementById("supportloop-chat");
    var box = el("div", "sl-box" + (host ? "" : " sl-float"));
    box.id = "sl-widget";
    box.appendChild(el("div", "sl-head", "Chat with us"));
    var log = el("div", "sl-log");
    log.setAttribute("aria-live", "polite");
    box.appendChild(log);
    var form = el("form", "sl-form");
    var input = el("input");
    input.name = "message";
    input.placeholder = "Ask about prices, menus, bookings...";
    input.maxLength = 4000;
    input.autocomplete = "off";
    var send = el("button", null, "Send");
    send.type = "submit";
    form.appendChild(input);
    form.appendChild(send);
    box.appendChild(form);
    (host || document.body).appendChild(box);

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var text = input.value.trim();
      if (!text || state.busy) { return; }
      state.busy = true;
      input.value = "";
      log.appendChild(el("div", "sl-msg sl-user", text));
      log.scrollTop = log.scrollHeight;
      var body = { message: text, session_id: state.session };
      if (state.conversation) { body.conversation_id = state.conversation; }
      post("/api/v1/chat", body).then(function (answer) {
        state.conversation = answer.conversation_id;
        var msg = el("div", "sl-msg sl-bot sl-answer", answer.answer);
        msg.setAttribute("data-message-id", String(answer.message_id));
        log.appendChild(msg);
        log.appendChild(feedbackRow(answer));
      }).catch(function (e) {
        log.appendChild(el("div", "sl-err", "Sorry, something went wrong: " + e.message));
      }).then(function () {
        state.busy = false;
        log.scrollTop = log.scrollHeight;
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", mount);
  } else {
    mount();
  }
})();
