// The viewer page: the meeting's public chat from the event stream, and, when the link allows it, a form to post.
// Chat text is only ever set with textContent: nothing from the chat reaches the page as markup.
"use strict";
(function () {
  var log = document.getElementById("log");
  if (!log) return; // a refused link: the page says why
  var status = document.getElementById("status");
  var base = location.pathname.replace(/\/+$/, "");
  var byID = new Map();
  var ended = false;

  function setStatus(text, isError) {
    status.textContent = text;
    status.classList.toggle("error", !!isError);
  }

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  }

  function add(li) {
    var stick = nearBottom();
    log.appendChild(li);
    if (stick) log.scrollTop = log.scrollHeight;
  }

  function system(text) {
    var li = document.createElement("li");
    li.className = "sys";
    li.textContent = text;
    add(li);
  }

  function time(ms) {
    if (!ms) return "";
    var d = new Date(ms);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function span(cls, text) {
    var s = document.createElement("span");
    s.className = cls;
    s.textContent = text;
    return s;
  }

  function message(ev) {
    var li = document.createElement("li");
    li.className = "msg";
    li.dataset.id = ev.message_id || "";
    li.appendChild(span("who", ev.name || "?"));
    var text = span("text", ev.text || "");
    li.appendChild(text);
    li.appendChild(span("when", time(ev.timestamp)));
    var reactions = document.createElement("span");
    reactions.className = "reactions";
    li.appendChild(reactions);
    if (ev.message_id) byID.set(ev.message_id, { li: li, text: text, reactions: reactions, counts: new Map() });
    add(li);
  }

  function edited(ev) {
    var m = byID.get(ev.message_id);
    if (!m) return;
    m.text.textContent = ev.text || "";
    if (!m.li.querySelector(".edited")) m.li.insertBefore(span("edited", "(edited)"), m.text.nextSibling);
  }

  function deleted(ev) {
    var m = byID.get(ev.message_id);
    if (!m) return;
    m.li.remove();
    byID.delete(ev.message_id);
  }

  function reaction(ev, delta) {
    var m = byID.get(ev.message_id);
    if (!m || !ev.emoji) return;
    var n = (m.counts.get(ev.emoji) || 0) + delta;
    if (n > 0) m.counts.set(ev.emoji, n); else m.counts.delete(ev.emoji);
    m.reactions.textContent = "";
    m.counts.forEach(function (count, emoji) {
      m.reactions.appendChild(span("reaction", emoji + " " + count));
    });
  }

  function cleared() {
    log.textContent = "";
    byID.clear();
    system("The chat was cleared.");
  }

  var source = new EventSource(base + "/events");
  function on(type, f) {
    source.addEventListener(type, function (e) {
      var ev;
      try { ev = JSON.parse(e.data); } catch (err) { return; }
      f(ev);
    });
  }
  source.addEventListener("open", function () { if (!ended) setStatus("Live"); });
  source.addEventListener("error", function () {
    if (ended) return;
    if (source.readyState === EventSource.CLOSED) setStatus("This chat is not available. Reload the page to try again.", true);
    else setStatus("Connection lost; reconnecting…", true);
  });
  on("message", message);
  on("message.edited", edited);
  on("message.deleted", deleted);
  on("reaction.added", function (ev) { reaction(ev, 1); });
  on("reaction.removed", function (ev) { reaction(ev, -1); });
  on("cleared", cleared);
  on("meeting.ended", function () {
    ended = true;
    setStatus("The meeting has ended.");
    system("The meeting has ended.");
    source.close();
    var form = document.getElementById("post");
    if (form) form.remove();
  });
  on("refused", function () {
    ended = true;
    source.close();
    setStatus("This link is no longer valid.", true);
    var form = document.getElementById("post");
    if (form) form.remove();
  });

  var form = document.getElementById("post");
  if (!form) return;
  var nameInput = document.getElementById("name");
  var box = document.getElementById("message");
  var send = document.getElementById("send");
  var postStatus = document.getElementById("post-status");
  var waitUntil = 0;
  try { nameInput.value = sessionStorage.getItem("bbb-chat-name") || ""; } catch (e) { /* storage may be off */ }

  function say(text, isError) {
    postStatus.textContent = text;
    postStatus.classList.toggle("error", !!isError);
  }

  box.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      form.requestSubmit();
    }
  });

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var name = nameInput.value.trim();
    var text = box.value.trim();
    if (!name) { say("Please enter your name.", true); nameInput.focus(); return; }
    if (!text) { say("Please write a message.", true); box.focus(); return; }
    var now = Date.now();
    if (now < waitUntil) {
      say("Slow mode: you can send again in " + Math.ceil((waitUntil - now) / 1000) + " s.", true);
      return;
    }
    try { sessionStorage.setItem("bbb-chat-name", name); } catch (err) { /* storage may be off */ }
    send.disabled = true;
    say("Sending…");
    fetch(base + "/messages", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: name, message: text }),
      credentials: "omit",
      cache: "no-store"
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (body) {
        if (resp.ok) {
          box.value = "";
          say("Sent. It appears above when the meeting shows it.");
          box.focus();
          return;
        }
        var msg = body && body.message ? body.message : "The message was not sent (" + resp.status + ").";
        if (resp.status === 429) {
          var secs = parseInt(resp.headers.get("Retry-After") || "0", 10);
          if (secs > 0) {
            waitUntil = Date.now() + secs * 1000;
            msg += " You can send again in " + secs + " s.";
          }
        }
        say(msg, true);
      });
    }).catch(function () {
      say("The message was not sent: no connection.", true);
    }).then(function () {
      send.disabled = false;
    });
  });
})();
