// walkout staff console: the live store view follows server-sent events
// (/console/live/events) and moves the shoppers on the floor map, marks
// degraded plates and lists the open visits. Everything else in the console
// works without script. Text goes in with textContent only.
"use strict";

(function () {
  const floor = document.getElementById("floor");
  if (!floor || !window.EventSource) return;
  const NS = "http://www.w3.org/2000/svg";
  const x0 = Number(floor.dataset.x0), y1 = Number(floor.dataset.y1);
  const scale = Number(floor.dataset.scale), pad = Number(floor.dataset.pad);
  const toPx = (x, y) => [(x - x0) * scale + pad, (y1 - y) * scale + pad];
  const shoppers = document.getElementById("shoppers");
  const status = document.getElementById("live-status");

  function marker(track) {
    const g = document.createElementNS(NS, "g");
    g.setAttribute("class", "shopper");
    g.dataset.track = track.id;
    const c = document.createElementNS(NS, "circle");
    c.setAttribute("r", "9");
    c.setAttribute("fill", "#1f5fa8");
    c.setAttribute("stroke", "#ffffff");
    c.setAttribute("stroke-width", "2");
    const t = document.createElementNS(NS, "text");
    t.setAttribute("x", "12");
    t.setAttribute("y", "4");
    t.setAttribute("font-size", "12");
    t.setAttribute("fill", "#1f2d3d");
    g.append(c, t);
    return g;
  }

  function drawTracks(tracks) {
    const seen = new Set();
    for (const track of tracks) {
      seen.add(track.id);
      let g = shoppers.querySelector(`g[data-track="${CSS.escape(track.id)}"]`);
      if (!g) {
        g = marker(track);
        shoppers.append(g);
      }
      const [px, py] = toPx(track.x, track.y);
      g.setAttribute("transform", `translate(${px.toFixed(1)} ${py.toFixed(1)})`);
      g.querySelector("text").textContent = track.visit ? track.visit.slice(0, 8) : track.id;
    }
    for (const g of [...shoppers.children]) if (!seen.has(g.dataset.track)) g.remove();
  }

  function drawPlates(degraded) {
    const bad = new Set(degraded.map((d) => d.plate));
    for (const p of floor.querySelectorAll("polygon.plate")) {
      const on = bad.has(p.id.slice("plate-".length));
      p.classList.toggle("degraded", on);
      p.setAttribute("fill", on ? "#e74c3c" : "#8fa3b8");
      p.setAttribute("fill-opacity", on ? "0.85" : "0.25");
    }
    const list = document.getElementById("degraded");
    list.replaceChildren(...degraded.map((d) => {
      const li = document.createElement("li");
      li.dataset.plate = d.plate;
      const id = document.createElement("span");
      id.className = "mono";
      id.textContent = d.plate;
      li.append(id, " " + d.reason);
      return li;
    }));
    document.getElementById("plates-ok").hidden = degraded.length > 0;
  }

  function drawVisits(visits) {
    const list = document.getElementById("visits");
    list.replaceChildren(...visits.map((v) => {
      const li = document.createElement("li");
      li.dataset.visit = v.id;
      const id = document.createElement("strong");
      id.className = "mono";
      id.textContent = v.short;
      const items = document.createElement("ul");
      items.className = "items";
      for (const [name, qty] of v.items) {
        const item = document.createElement("li");
        item.textContent = `${qty} × ${name}`;
        items.append(item);
      }
      li.append(id, ` ${v.shopper} · since ${v.entered}`, items);
      return li;
    }));
    document.getElementById("visits-none").hidden = visits.length > 0;
  }

  const source = new EventSource("/console/live/events");
  source.addEventListener("state", (e) => {
    const state = JSON.parse(e.data);
    drawTracks(state.tracks);
    drawPlates(state.degraded);
    drawVisits(state.visits);
    floor.dataset.version = String(state.version);
    status.textContent = "live";
    status.className = "live-status on";
  });
  source.addEventListener("error", () => {
    status.textContent = "reconnecting…";
    status.className = "live-status off";
  });
})();
