// Keeps a page live: the server sends an event from /events whenever the ledger
// changes; the page's #live part and the clock are fetched again and swapped in.
// However fast runs arrive, a page refreshes at most once a second.
(() => {
  const MIN_GAP_MS = 1000;
  let busy = false, waiting = false, last = 0;
  async function refresh() {
    busy = true;
    last = Date.now();
    try {
      const response = await fetch(location.href, {headers: {Accept: "text/html"}});
      if (response.ok) {
        const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
        for (const id of ["live", "clock"]) {
          const now = document.getElementById(id), next = fresh.getElementById(id);
          if (now && next) now.replaceWith(next);
        }
      }
    } catch (error) { /* the console stopped; the page keeps what it shows */ }
    busy = false;
  }
  function changed() {
    if (waiting) return;
    waiting = true;
    const run = () => {
      if (busy) { setTimeout(run, MIN_GAP_MS); return; }
      waiting = false;
      refresh();
    };
    setTimeout(run, Math.max(0, last + MIN_GAP_MS - Date.now()));
  }
  if (window.EventSource) new EventSource("/events").onmessage = changed;
})();
