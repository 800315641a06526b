// Earshot web chat widget. Put it on a page with
//   <script src="https://EARSHOT/chat/BOT/widget.js" data-key="pk_..." async></script>
// (data-target="ID" renders it inside that element instead of a floating
// panel). It talks to the bot over one WebSocket with the bot's public key;
// it carries no staff token and renders every text as text, never HTML.
// Its Call button calls the bot (WebRTC: the microphone goes to the bot,
// the bot's voice comes back) with the same key; data-voice="off" hides it.
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script) { return; }
  var src = new URL(script.src, location.href);
  var m = src.pathname.match(/^\/chat\/([^/]+)\/widget\.js$/);
  if (!m) { return; }
  var bot = decodeURIComponent(m[1]);
  var key = script.getAttribute('data-key') || '';
  var title = script.getAttribute('data-title') || 'Chat';
  var httpBase = src.origin;
  var wsBase = src.origin.replace(/^http/, 'ws');
  var voiceOn = script.getAttribute('data-voice') !== 'off' && !!window.RTCPeerConnection && !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  var storeKey = 'earshot-chat:' + bot;

  var host = script.getAttribute('data-target') ? document.getElementById(script.getAttribute('data-target')) : null;
  var floating = !host;
  if (!host) {
    host = document.createElement('div');
    host.id = 'earshot-chat-widget';
    document.body.appendChild(host);
  }
  var root = host.attachShadow({ mode: 'open' });
  var style = document.createElement('style');
  style.textContent = [
    ':host{all:initial;font:15px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1b1d21}',
    '.chat{display:flex;flex-direction:column;width:100%;max-width:420px;height:560px;background:#fff;border:1px solid #d5d8dd;border-radius:10px;overflow:hidden;box-shadow:0 4px 18px rgba(0,0,0,.12)}',
    floating ? '.chat{position:fixed;right:18px;bottom:18px;z-index:2147483000}' : '',
    '.head{background:#1f3a5f;color:#fff;padding:10px 14px;font-weight:600;display:flex;align-items:center}',
    '.head span{flex:1}',
    'button.call{border:1px solid #fff;background:none;color:#fff;border-radius:14px;padding:2px 12px;font:inherit;font-weight:400;cursor:pointer}',
    'button.call.active{background:#b3261e;border-color:#b3261e}',
    '.log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:8px}',
    '.msg{max-width:85%;padding:8px 11px;border-radius:12px;white-space:pre-wrap;word-wrap:break-word}',
    '.msg.customer{align-self:flex-end;background:#1f3a5f;color:#fff}',
    '.msg.bot,.msg.agent{align-self:flex-start;background:#eef1f5}',
    '.msg.agent{border-left:3px solid #2f8f5b}',
    '.msg.system{align-self:center;background:none;color:#5b6270;font-size:13px}',
    '.cite{display:block;margin-top:4px;font-size:12px;color:#5b6270}',
    '.choices{display:flex;flex-wrap:wrap;gap:6px;margin-top:6px}',
    '.choices button{border:1px solid #1f3a5f;background:#fff;color:#1f3a5f;border-radius:14px;padding:3px 10px;cursor:pointer;font:inherit}',
    'form{display:flex;border-top:1px solid #d5d8dd}',
    'input{flex:1;border:0;padding:11px;font:inherit;outline:none}',
    'button.send{border:0;background:#1f3a5f;color:#fff;padding:0 16px;font:inherit;cursor:pointer}',
    '.status{font-size:12px;color:#8a4b08;padding:0 12px 6px;min-height:0}'
  ].join('\n');
  root.appendChild(style);
  var chat = el('div', 'chat');
  chat.setAttribute('role', 'region');
  chat.setAttribute('aria-label', title);
  var head = el('div', 'head');
  var headTitle = el('span', '');
  headTitle.textContent = title;
  head.appendChild(headTitle);
  var callBtn = el('button', 'call');
  callBtn.type = 'button';
  callBtn.textContent = 'Call';
  callBtn.setAttribute('aria-label', 'Call ' + title);
  var audio = document.createElement('audio');
  audio.autoplay = true;
  if (voiceOn) { head.appendChild(callBtn); root.appendChild(audio); }
  var log = el('div', 'log');
  log.setAttribute('role', 'log');
  log.setAttribute('aria-live', 'polite');
  var status = el('div', 'status');
  var form = document.createElement('form');
  var input = document.createElement('input');
  input.name = 'text';
  input.autocomplete = 'off';
  input.maxLength = 2000;
  input.setAttribute('aria-label', 'Message');
  var send = el('button', 'send');
  send.type = 'submit';
  send.textContent = 'Send';
  form.appendChild(input);
  form.appendChild(send);
  chat.appendChild(head);
  chat.appendChild(log);
  chat.appendChild(status);
  chat.appendChild(form);
  root.appendChild(chat);

  function el(tag, cls) { var e = document.createElement(tag); e.className = cls; return e; }

  var ws = null, lastId = 0, ended = false, retries = 0, session = null;
  try { session = JSON.parse(sessionStorage.getItem(storeKey) || 'null'); } catch (e) { session = null; }

  function add(from, text, extra) {
    var msg = el('div', 'msg ' + from);
    msg.textContent = text;
    if (extra && extra.citations && extra.citations.length) {
      for (var i = 0; i < extra.citations.length; i++) {
        var c = el('span', 'cite');
        c.textContent = 'Source: ' + extra.citations[i].title;
        msg.appendChild(c);
      }
    }
    if (extra && extra.choices && extra.choices.length) {
      var box = el('div', 'choices');
      extra.choices.forEach(function (choice) {
        var b = document.createElement('button');
        b.type = 'button';
        b.textContent = choice;
        b.addEventListener('click', function () { submit(choice); box.remove(); });
        box.appendChild(b);
      });
      msg.appendChild(box);
    }
    log.appendChild(msg);
    log.scrollTop = log.scrollHeight;
    host.setAttribute('data-messages', String(log.querySelectorAll('.msg').length));
  }

  function setStatus(text) { status.textContent = text || ''; }

  function handle(f) {
    switch (f.type) {
      case 'session':
        session = { conversation: f.conversation, resume: f.resume || (session && session.resume) };
        try { sessionStorage.setItem(storeKey, JSON.stringify(session)); } catch (e) { /* storage off */ }
        host.setAttribute('data-conversation', f.conversation);
        host.setAttribute('data-state', 'open');
        retries = 0;
        break;
      case 'message':
        if (f.id && f.id <= lastId) { return; }
        if (f.id) { lastId = f.id; }
        add(f.from === 'agent' || f.from === 'customer' ? f.from : 'bot', f.text, f);
        break;
      case 'position':
        setStatus('You are number ' + f.position + ' in the queue.');
        break;
      case 'agent_joined':
        setStatus('');
        add('system', (f.agent_name || 'An agent') + ' joined the chat.');
        break;
      case 'error':
        setStatus(f.detail || f.code);
        host.setAttribute('data-last-error', f.code);
        if (f.code === 'revoked') { ended = true; }
        break;
      case 'ended':
        ended = true;
        end('The conversation has ended.');
        break;
    }
  }

  function end(text) {
    host.setAttribute('data-state', 'ended');
    input.disabled = true;
    send.disabled = true;
    setStatus(text);
    try { sessionStorage.removeItem(storeKey); } catch (e) { /* storage off */ }
  }

  function connect() {
    var url = wsBase + '/chat/' + encodeURIComponent(bot) + '/ws?key=' + encodeURIComponent(key);
    if (session && session.conversation && session.resume) {
      url += '&conversation=' + encodeURIComponent(session.conversation) + '&resume=' + encodeURIComponent(session.resume) + '&after=' + lastId;
    }
    ws = new WebSocket(url);
    ws.onmessage = function (e) {
      var f;
      try { f = JSON.parse(e.data); } catch (err) { return; }
      handle(f);
    };
    ws.onclose = function (e) {
      host.setAttribute('data-close-code', String(e.code));
      if (ended) { return; }
      if (e.code === 1008 || e.code === 1006 && retries >= 3) {
        end(e.code === 1008 ? 'The chat is not available.' : 'The chat could not connect.');
        host.setAttribute('data-state', 'refused');
        return;
      }
      retries++;
      setStatus('Reconnecting…');
      setTimeout(connect, Math.min(8000, 500 * Math.pow(2, retries)));
    };
  }

  function submit(text) {
    text = String(text).trim();
    if (!text || !ws || ws.readyState !== 1) { return; }
    ws.send(JSON.stringify({ type: 'message', text: text }));
  }

  // ---- voice: one WebRTC call at a time ----
  var call = null;

  function voiceState(s) { host.setAttribute('data-voice', s); }

  function hangUp(reason) {
    var c = call;
    if (!c) { return; }
    call = null;
    callBtn.textContent = 'Call';
    callBtn.classList.remove('active');
    if (c.location) { fetch(c.location, { method: 'DELETE' }).catch(function () { /* ended anyway */ }); }
    if (c.mic) { c.mic.getTracks().forEach(function (t) { t.stop(); }); }
    c.pc.close();
    audio.srcObject = null;
    voiceState(reason || 'ended');
  }

  function gathered(pc) {
    return new Promise(function (res) {
      if (pc.iceGatheringState === 'complete') { res(); return; }
      pc.addEventListener('icegatheringstatechange', function () { if (pc.iceGatheringState === 'complete') { res(); } });
      setTimeout(res, 3000);
    });
  }

  function startCall() {
    if (call) { hangUp(); return; }
    var c = { pc: new RTCPeerConnection({ iceServers: [] }), location: null, mic: null, stream: null };
    call = c;
    host.earshotVoice = c;
    callBtn.textContent = 'Hang up';
    callBtn.classList.add('active');
    voiceState('connecting');
    c.pc.ontrack = function (e) {
      c.stream = e.streams[0] || new MediaStream([e.track]);
      audio.srcObject = c.stream;
    };
    c.pc.onconnectionstatechange = function () {
      var st = c.pc.connectionState;
      if (call !== c) { return; }
      if (st === 'connected') { voiceState('connected'); }
      if (st === 'failed' || st === 'closed') { hangUp('ended'); }
    };
    navigator.mediaDevices.getUserMedia({ audio: true }).then(function (mic) {
      c.mic = mic;
      mic.getAudioTracks().forEach(function (t) { c.pc.addTransceiver(t, { direction: 'sendrecv', streams: [mic] }); });
      return c.pc.createOffer();
    }).then(function (o) {
      return c.pc.setLocalDescription(o);
    }).then(function () {
      return gathered(c.pc);
    }).then(function () {
      return fetch(httpBase + '/chat/' + encodeURIComponent(bot) + '/voice?key=' + encodeURIComponent(key), {
        method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: c.pc.localDescription.sdp });
    }).then(function (r) {
      if (r.status !== 201) {
        return r.json().catch(function () { return {}; }).then(function (p) { throw new Error(p.detail || ('status ' + r.status)); });
      }
      var loc = r.headers.get('Location');
      c.location = loc ? new URL(loc, httpBase).href : null;
      return r.text();
    }).then(function (sdp) {
      return c.pc.setRemoteDescription({ type: 'answer', sdp: sdp });
    }).catch(function (err) {
      if (call !== c) { return; }
      setStatus('The call could not start: ' + err.message);
      hangUp('refused');
    });
  }

  callBtn.addEventListener('click', startCall);

  form.addEventListener('submit', function (e) {
    e.preventDefault();
    submit(input.value);
    input.value = '';
  });
  connect();
})();
