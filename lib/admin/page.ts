/**
 * The admin page (GET / on the admin port): members, nodes (sessions, mirroring lag),
 * caches with cluster-scoped clear/reload buttons, applications with enable / disable /
 * drain. Live through server-sent events (GET /events). Plain HTML and JS; the actions
 * call the admin API with the header X-Castmirror-Admin, which a page of another origin
 * cannot send, so another site cannot drive this page's browser login (CSRF).
 *
 * The page itself needs no credentials. With `<Admin><User>` logins it shows its own login
 * form (POST /login sets an HttpOnly cookie; "log out" ends it); without them the browser
 * asks for the cluster secret (HTTP Basic). A user of role `read` sees the buttons disabled.
 */
export const ADMIN_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>castmirror admin</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; background: #f6f7f9; }
  header { background: #2d3e50; color: #fff; padding: .6rem 1rem; display: flex; gap: 1rem; align-items: baseline; }
  header h1 { font-size: 1.1rem; margin: 0; flex: 1; }
  main { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; padding: 1rem; }
  section { background: #fff; border: 1px solid #dde; border-radius: .4rem; padding: .8rem; }
  h2 { font-size: 1rem; margin: 0 0 .5rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .2rem .4rem; border-bottom: 1px solid #eee; font-variant-numeric: tabular-nums; }
  .scope { font-size: .75rem; color: #666; }
  .alive { color: #1a7f37; } .suspect { color: #b08800; } .dead, .left, .unreachable { color: #b00020; }
  .message { min-height: 1.2em; margin: .4rem 0 0; }
  .message.failed { color: #b00020; }
  #session { display: flex; gap: .6rem; align-items: baseline; }
  #session button { font-size: .8rem; }
  #login { max-width: 22rem; margin: 3rem auto; background: #fff; border: 1px solid #dde; border-radius: .4rem; padding: 1rem; }
  #login label { display: block; margin: .4rem 0; }
  #login input { width: 100%; box-sizing: border-box; }
  [hidden] { display: none !important; }
  section { overflow-x: auto; }
  @media (max-width: 800px) { main { grid-template-columns: 1fr; } header { flex-wrap: wrap; } }
</style>
</head>
<body>
<header><h1>castmirror admin: <span id="cluster">?</span></h1><span>via <strong id="via">?</strong>, <span id="updated">connecting…</span></span>
  <span id="session" hidden><span id="user"></span><button id="logout">log out</button></span></header>
<form id="login" hidden>
  <h2>Log in</h2>
  <label>user <input id="login-user" autocomplete="username" required></label>
  <label>password <input id="login-password" type="password" autocomplete="current-password" required></label>
  <button type="submit">log in</button>
  <p id="login-message" class="message failed"></p>
</form>
<p id="denied" hidden>This page needs credentials: the cluster secret as the password (any user name). Reload to try again.</p>
<main id="view" hidden>
  <section><h2>Members <span class="scope">(as this node sees them)</span></h2>
    <table><thead><tr><th>name</th><th>state</th><th>incarnation</th><th>since heard</th></tr></thead><tbody id="members"></tbody></table></section>
  <section><h2>Nodes <span class="scope">(each node's own figures)</span></h2>
    <table><thead><tr><th>node</th><th>sessions primary / backup</th><th>mirrors in flight</th><th>last ack lag</th><th>store</th></tr></thead><tbody id="nodes"></tbody></table></section>
  <section><h2>Caches <span class="scope">(stats: this node; buttons: every node)</span></h2>
    <table><thead><tr><th>type</th><th>size</th><th>capacity</th><th>hit ratio</th><th>evictions</th><th>gap clears</th><th></th></tr></thead><tbody id="caches"></tbody></table>
    <p class="message" role="status"></p></section>
  <section><h2>Applications <span class="scope">(state: cluster; sessions: this node)</span></h2>
    <table><thead><tr><th>name</th><th>state</th><th>here</th><th>sessions</th><th></th></tr></thead><tbody id="apps"></tbody></table>
    <p class="message" role="status"></p></section>
</main>
<script>
const $ = (id) => document.getElementById(id);
const cell = (text, cls) => { const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; return td; };
const row = (cells) => { const tr = document.createElement('tr'); tr.append(...cells); return tr; };
let role = 'operator';
function button(label, action, confirmText) {
  const b = document.createElement('button');
  b.textContent = label;
  b.dataset.action = action;
  if (role === 'read') { b.disabled = true; b.title = 'your role is read: you may look, not act'; }
  b.onclick = async () => {
    if (confirmText && !confirm(confirmText)) return;
    // The result shows in the card of the button that was clicked.
    const message = b.closest('section').querySelector('.message');
    b.disabled = true;
    try {
      const response = await fetch(action, { method: 'POST', headers: { 'X-Castmirror-Admin': '1', 'Content-Type': 'application/json' }, body: b.dataset.body || '{}' });
      const body = await response.json().catch(() => ({}));
      message.classList.toggle('failed', !response.ok);
      message.textContent = response.ok ? label + ': done' + (body.missing && body.missing.length ? ' (no answer from ' + body.missing.join(', ') + ')' : '') : label + ': ' + ((body.error && body.error.message) || 'failed');
    } finally { b.disabled = role === 'read'; }
  };
  return b;
}
function render(view) {
  $('cluster').textContent = view.cluster;
  $('via').textContent = view.node;
  $('updated').textContent = 'updated ' + new Date(view.at).toLocaleTimeString();
  $('members').replaceChildren(...view.members.map((m) => row([cell(m.name + (m.self ? ' (this node)' : '')), cell(m.state, m.state), cell(m.incarnation), cell(m.self ? '-' : m.msSinceHeard + ' ms')])));
  $('nodes').replaceChildren(...view.nodes.map((n) => n.reachable
    ? row([cell(n.name), cell(n.sessions.primary + ' / ' + n.sessions.backup), cell(String(n.inFlight)), cell(n.lastAckLagMs.toFixed(2) + ' ms'), n.store ? cell(n.store.state + (n.store.backlog ? ', ' + n.store.backlog + ' waiting' : ''), n.store.state === 'up' ? '' : 'unreachable') : cell('-')])
    : row([cell(n.name), cell('unreachable', 'unreachable'), cell('-'), cell('-'), cell('-')])));
  $('caches').replaceChildren(...view.caches.map((c) => {
    const lookups = c.hits + c.misses;
    const actions = document.createElement('td');
    actions.append(button('clear', '/caches/' + encodeURIComponent(c.type) + '/clear', 'Clear ' + c.type + ' on every node?'), ' ', button('reload', '/caches/' + encodeURIComponent(c.type) + '/reload'));
    const tr = row([cell(c.type), cell(String(c.size)), cell(String(c.capacity)), cell(lookups ? (100 * c.hits / lookups).toFixed(1) + '%' : '-'), cell(String(c.evictions)), cell(String(c.gapClears)), actions]);
    tr.dataset.type = c.type;
    return tr;
  }));
  $('apps').replaceChildren(...view.applications.map((a) => {
    const actions = document.createElement('td');
    const base = '/apps/' + encodeURIComponent(a.name);
    const drain = button('disable (graceful)', base + '/disable');
    drain.dataset.body = '{"graceful":true}';
    actions.append(button('enable', base + '/enable'), ' ', drain, ' ', button('disable now', base + '/disable', 'Refuse every request of ' + a.name + ' at once?'));
    const tr = row([cell(a.name), cell(a.state), cell(a.effective), cell(String(a.sessions)), actions]);
    tr.dataset.app = a.name;
    return tr;
  }));
}
let events;
function showView(who) {
  role = who.role;
  $('login').hidden = true;
  $('view').hidden = false;
  $('session').hidden = !who.logins;
  $('user').textContent = who.user + ' (' + who.role + ')';
  events = new EventSource('/events');
  events.addEventListener('view', (e) => render(JSON.parse(e.data)));
  events.onerror = () => { $('updated').textContent = 'reconnecting…'; };
}
function showLogin(text) {
  if (events) events.close();
  $('view').hidden = true;
  $('session').hidden = true;
  $('login').hidden = false;
  $('login-message').textContent = text || '';
  $('login-user').focus();
}
async function start() {
  const response = await fetch('/whoami');
  if (response.ok) return showView(await response.json());
  // With logins the answer says so (no Basic challenge); without, the browser's prompt was cancelled.
  if ((response.headers.get('www-authenticate') || '').startsWith('Basic')) { $('denied').hidden = false; return; }
  showLogin();
}
$('login').onsubmit = async (e) => {
  e.preventDefault();
  const response = await fetch('/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: $('login-user').value, password: $('login-password').value }) });
  $('login-password').value = '';
  if (!response.ok) return showLogin('wrong user name or password');
  start();
};
$('logout').onclick = async () => {
  await fetch('/logout', { method: 'POST' });
  showLogin('logged out');
};
start();
</script>
</body>
</html>
`;
