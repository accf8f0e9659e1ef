/**
 * The shop's single page: search with next/prev, cart, price editor, and the node that
 * served each response (from X-Castmirror-Node). Plain HTML and fetch, no build step.
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>castmirror shop</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
  header { background: #1f3a5f; color: #fff; padding: .6rem 1rem; display: flex; gap: 1rem; align-items: center; }
  header h1 { font-size: 1.1rem; margin: 0; flex: 1; }
  #node { font-weight: bold; background: #fff; color: #1f3a5f; padding: .15rem .5rem; border-radius: .3rem; }
  main { display: grid; grid-template-columns: 2fr 1fr; gap: 1rem; padding: 1rem; }
  section { background: #fff; border: 1px solid #ddd; border-radius: .4rem; padding: .8rem; }
  h2 { font-size: 1rem; margin: 0 0 .5rem; }
  ul { list-style: none; padding: 0; margin: 0; }
  li { display: flex; justify-content: space-between; gap: .5rem; padding: .2rem 0; border-bottom: 1px solid #eee; }
  .error { color: #b00020; min-height: 1.2em; }
  #log { font: 12px ui-monospace, monospace; max-height: 12rem; overflow: auto; }
  #moved { background: #fff4ce; border-bottom: 1px solid #e0c060; padding: .4rem 1rem; margin: 0; }
  [hidden] { display: none !important; }
  @media (max-width: 800px) { main { grid-template-columns: 1fr; } }
  button { cursor: pointer; }
</style>
</head>
<body>
<header><h1>castmirror demo shop</h1><span>served by <span id="node">?</span></span></header>
<p id="moved" role="status" hidden></p>
<main>
  <div>
    <section>
      <h2>Search</h2>
      <form id="search-form"><input id="q" placeholder="teapot, garden, deluxe…" autocomplete="off"> <button id="search-btn">Search</button></form>
      <p id="page-info"></p>
      <ul id="results"></ul>
      <p><button id="prev">&larr; prev</button> <button id="next">next &rarr;</button></p>
    </section>
    <section>
      <h2>Change a price</h2>
      <form id="price-form"><input id="price-sku" placeholder="sku-0001" size="10"> <input id="price-value" type="number" step="0.01" min="0.01" placeholder="price" size="8"> <button id="price-btn">Save</button></form>
      <p id="price-result"></p>
    </section>
  </div>
  <div>
    <section>
      <h2>Cart</h2>
      <ul id="cart"></ul>
      <p>Total: <strong id="cart-total">0.00</strong> <button id="logout">Log out</button></p>
    </section>
    <section>
      <h2>Responses</h2>
      <p class="error" id="error"></p>
      <ul id="log"></ul>
    </section>
  </div>
</main>
<script>
const $ = (id) => document.getElementById(id);
async function call(method, path, body) {
  const response = await fetch(path, { method, headers: body ? { 'Content-Type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  const node = response.headers.get('X-Castmirror-Node') || '(proxy)';
  const previous = $('node').textContent;
  $('node').textContent = node;
  // The session moved to this node: taken over from a node that failed, or fetched from one.
  const outcome = response.headers.get('X-Shop-Session');
  if (outcome === 'took-over' || outcome === 'fetched' || outcome === 'restored') {
    $('moved').hidden = false;
    $('moved').textContent = 'Your session moved to ' + node + (previous && previous !== '?' && previous !== node ? ' from ' + previous : '') + (outcome === 'took-over' ? ': its node stopped answering, and ' + node + ', which held its copy, took it over. Nothing was lost.' : outcome === 'restored' ? ': no node held it any more, and ' + node + ' loaded it from the shared store.' : ': ' + node + ' fetched it from the node that held it.');
  }
  const entry = document.createElement('li');
  entry.textContent = method + ' ' + path + ' → ' + response.status + ' on ' + node;
  $('log').prepend(entry);
  const data = await response.json();
  $('error').textContent = response.ok ? '' : ((data.error && data.error.message) || data.message || data.error || 'HTTP ' + response.status);
  if (!response.ok) throw new Error($('error').textContent);
  return data;
}
function money(n) { return Number(n).toFixed(2); }
function showPage(page) {
  $('page-info').textContent = page.total + ' results for "' + page.query + '", page ' + (page.page + 1) + ' of ' + (page.lastPage + 1);
  $('page-info').dataset.page = page.page;
  const list = $('results');
  list.replaceChildren(...page.items.map((p) => {
    const li = document.createElement('li');
    const label = document.createElement('span');
    label.textContent = p.sku + ' · ' + p.name + ' · ' + money(p.price);
    const add = document.createElement('button');
    add.textContent = 'Add';
    add.className = 'add';
    add.dataset.sku = p.sku;
    add.onclick = () => call('POST', '/cart/items', { sku: p.sku, qty: 1 }).then(showCart).catch(() => {});
    li.append(label, add);
    return li;
  }));
}
function showCart(cart) {
  $('cart').replaceChildren(...cart.items.map((item) => {
    const li = document.createElement('li');
    li.className = 'cart-line';
    li.dataset.sku = item.sku;
    li.textContent = item.qty + ' × ' + item.name + ' (' + item.sku + ') @ ' + money(item.price);
    return li;
  }));
  $('cart-total').textContent = money(cart.total);
}
$('search-form').onsubmit = (e) => { e.preventDefault(); call('GET', '/search?q=' + encodeURIComponent($('q').value) + '&pageSize=10').then(showPage).catch(() => {}); };
$('next').onclick = () => call('GET', '/search/next').then(showPage).catch(() => {});
$('prev').onclick = () => call('GET', '/search/prev').then(showPage).catch(() => {});
$('price-form').onsubmit = (e) => {
  e.preventDefault();
  const sku = $('price-sku').value.trim();
  call('PUT', '/products/' + encodeURIComponent(sku), { price: Number($('price-value').value) })
    .then((p) => { $('price-result').textContent = p.sku + ' now costs ' + money(p.price); return call('GET', '/cart'); })
    .then(showCart)
    .then(() => ($('page-info').dataset.page === undefined ? undefined : call('GET', '/search/current').then(showPage)))
    .catch(() => {});
};
$('logout').onclick = () => call('POST', '/logout').then(() => showCart({ items: [], total: 0 })).catch(() => {});
call('GET', '/cart').then(showCart).catch(() => {});
// After a reload: the search the session kept, on its page.
call('GET', '/search/current').then((page) => { if (page.query !== null) showPage(page); }).catch(() => {});
</script>
</body>
</html>
`;
