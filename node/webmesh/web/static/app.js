// The web view: the mesh graph, the node list and the policy tables, live from /api/events.
//
// One EventSource; each "state" event carries the whole view (GET /api/state's JSON). Updates go
// in place, by node id: a row or a graph element is touched only when what it shows changed, and
// the graph is laid out again only when nodes come or go (an O(n) placement on rings, no force
// simulation), so a 1,000-node mesh costs little per event. Nothing here uses innerHTML, eval or
// inline styles: the page runs under a strict Content-Security-Policy.
"use strict";

(function () {
  // Errors and CSP violations, for the browser test (and anyone with the console closed).
  const errors = (window.__errors = window.__errors || []);
  window.addEventListener("error", (e) => errors.push(`error: ${e.message}`));
  window.addEventListener("unhandledrejection", (e) => errors.push(`rejection: ${e.reason}`));
  document.addEventListener("securitypolicyviolation", (e) =>
    errors.push(`csp: ${e.violatedDirective} ${e.blockedURI}`),
  );

  const ROLE_RANK = { voter: 0, observer: 1, client: 2 };
  const SMALL_MESH = 16; // up to this many nodes: one circle; more: rings by role
  const $ = (id) => document.getElementById(id);

  const view = {
    cy: null,
    userMoved: false, // the user panned or zoomed: keep their viewport when nodes come and go
    rows: new Map(), // node id -> {tr, cells, seen, sig, haystack, lastSeen, handshake, online, self}
    order: "", // the node ids in table order, joined: rows are moved only when it changes
    tables: {}, // policy table id -> signature of its rows
    at: 0, // the server's clock (unix seconds) when it sent the state
    received: 0, // our clock (ms) when it arrived: ages = server's age + time since then
    leader: "",
    servedBy: "",
    drawn: new Map(), // graph element id -> signature of what it shows
    selected: "", // the node picked in the table or the graph
  };

  // ---- small helpers ----

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (key === "class") node.className = value;
        else if (key === "data") Object.assign(node.dataset, value);
        else node[key] = value;
      }
    }
    for (const child of children) {
      if (child != null) node.append(child);
    }
    return node;
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function duration(seconds) {
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min`;
    if (s < 86400) return `${Math.floor(s / 3600)} h`;
    return `${Math.floor(s / 86400)} d`;
  }

  function elapsed() {
    return view.received ? (Date.now() - view.received) / 1000 : 0;
  }

  function list(items) {
    return (items || []).join(", ");
  }

  function byRoleThenId(a, b) {
    const rank = (ROLE_RANK[a.role] ?? 9) - (ROLE_RANK[b.role] ?? 9);
    return rank || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  }

  // ---- header ----

  function renderHeader(mesh) {
    setText($("domain"), mesh.domain || "");
    setText($("networks"), [mesh.ipv4, mesh.ipv6].filter(Boolean).join("  ") || "–");
    setText($("leader"), mesh.leader || "none");
    setText($("served-by"), mesh.served_by || "–");
    for (const [id, value] of [["count-nodes", mesh.nodes], ["count-online", mesh.online]]) {
      $(id).dataset.count = String(value);
      setText($(id), String(value));
    }
    setText($("updated"), new Date().toLocaleTimeString());
    document.title = `webmesh ${mesh.domain || ""} · ${mesh.online}/${mesh.nodes} online`;
  }

  function setLive(state) {
    const live = $("live");
    const labels = { live: "live", reconnecting: "reconnecting…", connecting: "connecting…" };
    live.dataset.state = state;
    live.className = `live ${state === "live" ? "live-on" : state}`;
    setText(live, labels[state] || state);
  }

  // ---- node table ----

  // the node table's columns, in order, and their cells' classes
  const CELLS = {
    id: "nowrap", role: "nowrap", state: "", addresses: "mono", endpoints: "mono",
    observed: "mono", handshake: "nowrap", routes: "mono",
  };

  function newRow(id) {
    const cells = {};
    const tr = el("tr", { data: { node: id } });
    for (const [name, cls] of Object.entries(CELLS)) {
      cells[name] = el("td", { class: cls });
      tr.append(cells[name]);
    }
    const state = el("span", { class: "state" });
    const seen = el("span", { class: "seen muted", title: "last seen" });
    cells.state.append(state, seen);
    tr.addEventListener("click", () => select(id));
    return {
      tr, cells, state, seen, sig: "", haystack: "", lastSeen: null, handshake: null, online: false, self: false,
    };
  }

  function fillRow(row, node) {
    // the ages tick by themselves (tickAges): a new age alone does not redraw the row
    const sig = JSON.stringify([{ ...node, last_seen: 0, handshake_age: 0 }, view.leader === node.id]);
    row.lastSeen = node.last_seen;
    row.handshake = node.handshake_age;
    row.online = node.online;
    row.self = node.id === view.servedBy;
    if (row.sig === sig) return;
    row.sig = sig;
    const { tr, cells } = row;
    tr.dataset.online = String(Boolean(node.online));
    tr.dataset.role = node.role || "";
    const tags = [[view.leader === node.id, "leader"], [node.exit, "exit"], [node.relay, "relay"]];
    cells.id.replaceChildren(
      node.id,
      ...tags.filter(([on]) => on).map(([, tag]) => el("span", { class: `tag ${tag}`, textContent: tag })),
    );
    setText(cells.role, node.role || "");
    setText(row.state, node.online ? "online" : "offline");
    setText(cells.addresses, [node.ipv4, node.ipv6].filter(Boolean).join(" "));
    setText(cells.endpoints, list(node.endpoints));
    setText(cells.observed, node.observed_endpoint || "");
    setText(cells.routes, list(node.routes));
    row.haystack = [
      node.id, node.role, node.online ? "online" : "offline", node.ipv4, node.ipv6,
      list(node.endpoints), node.observed_endpoint, list(node.routes),
      node.exit ? "exit" : "", node.relay ? "relay" : "", view.leader === node.id ? "leader" : "",
    ].join(" ").toLowerCase();
  }

  function tickAges() {
    const since = elapsed();
    for (const row of view.rows.values()) {
      const gone = !row.online && row.lastSeen != null;
      setText(row.seen, gone ? `seen ${duration(view.at - row.lastSeen + since)} ago` : "");
      let handshake = row.self ? "this node" : "–";
      if (row.handshake != null) handshake = `${duration(row.handshake + since)} ago`;
      setText(row.cells.handshake, handshake);
    }
  }

  function renderNodes(nodes) {
    const seen = new Set();
    for (const node of nodes) {
      seen.add(node.id);
      let row = view.rows.get(node.id);
      if (!row) view.rows.set(node.id, (row = newRow(node.id)));
      fillRow(row, node);
    }
    for (const [id, row] of view.rows) {
      if (!seen.has(id)) {
        row.tr.remove();
        view.rows.delete(id);
      }
    }
    const ids = [...view.rows.keys()].sort();
    const order = ids.join("\n");
    if (order !== view.order) {
      view.order = order;
      const body = $("nodes").tBodies[0];
      const fragment = document.createDocumentFragment();
      for (const id of ids) fragment.append(view.rows.get(id).tr);
      body.append(fragment);
    }
    tickAges();
    applyFilter();
  }

  function applyFilter() {
    const query = $("filter").value.trim().toLowerCase();
    const words = query ? query.split(/\s+/) : [];
    let shown = 0;
    for (const row of view.rows.values()) {
      const hide = words.some((word) => !row.haystack.includes(word));
      if (row.tr.hidden !== hide) row.tr.hidden = hide;
      if (!hide) shown += 1;
    }
    setText($("shown"), words.length ? `${shown} of ${view.rows.size}` : `${view.rows.size}`);
  }

  // Picks a node (or none: ""): its row and its graph node are highlighted together.
  function select(id, { scroll = false } = {}) {
    const previous = view.rows.get(view.selected);
    if (previous) previous.tr.classList.remove("selected");
    view.selected = id === view.selected ? "" : id; // picking it again drops it
    const row = view.rows.get(view.selected);
    if (row) {
      row.tr.classList.add("selected");
      if (scroll) row.tr.scrollIntoView({ block: "nearest" });
    }
    if (view.cy) {
      view.cy.nodes(".picked").removeClass("picked");
      if (view.selected) view.cy.getElementById(view.selected).addClass("picked");
    }
  }

  // ---- policy tables ----

  function renderTable(tableId, items, columns) {
    const sig = JSON.stringify(items || []);
    if (view.tables[tableId] === sig) return;
    view.tables[tableId] = sig;
    const body = $(tableId).tBodies[0];
    if (!items || items.length === 0) {
      const width = $(tableId).tHead.rows[0].cells.length;
      const none = el("td", { class: "empty", colSpan: width, textContent: "none" });
      body.replaceChildren(el("tr", {}, none));
      return;
    }
    const cell = (item, [text, cls]) => {
      const className = typeof cls === "function" ? cls(item) : cls || "";
      return el("td", { class: className, textContent: text(item) });
    };
    const row = (item) => el("tr", { data: { name: item.name } }, ...columns.map((c) => cell(item, c)));
    body.replaceChildren(...items.map(row));
  }

  function either(nodes, cidrs) {
    return [...(nodes || []), ...(cidrs || [])].join(", ") || "any";
  }

  function renderPolicy(state) {
    const fallback = state.mesh.default_network_policy;
    setText($("acl-default"), fallback ? `(default: ${fallback})` : "");
    renderTable("acls", state.acls, [
      [(a) => a.name],
      [(a) => String(a.priority ?? "")],
      [(a) => a.action, (a) => `action-${a.action}`],
      [(a) => either(a.source_nodes, a.source_cidrs), "mono"],
      [(a) => either(a.destination_nodes, a.destination_cidrs), "mono"],
    ]);
    renderTable("routes", state.routes, [
      [(r) => r.name],
      [(r) => r.node, "mono"],
      [(r) => list(r.destination_cidrs), "mono"],
    ]);
    renderTable("peerings", state.peerings, [
      [(p) => p.name],
      [(p) => p.gateway, "mono"],
      [(p) => p.remote_endpoint, "mono"],
      [(p) => list(p.export_cidrs), "mono"],
      [(p) => list(p.accept_cidrs), "mono"],
    ]);
  }

  // ---- graph ----

  function graphStyle() {
    const c = {
      ink: cssVar("--ink"), muted: cssVar("--muted"), back: cssVar("--graph-bg"), online: cssVar("--online"),
      offline: cssVar("--offline"), exit: cssVar("--exit"), relay: cssVar("--relay"),
      direct: cssVar("--direct"), relayed: cssVar("--relayed"), punching: cssVar("--punching"),
    };
    return [
      {
        selector: "node",
        style: {
          "background-color": c.online, label: "data(label)", color: c.ink, "font-size": 11,
          "text-valign": "bottom", "text-margin-y": 4, "text-wrap": "wrap",
          "text-background-color": c.back, "text-background-opacity": 0.85,
          "text-background-padding": 1, "min-zoomed-font-size": 6, width: 26, height: 26,
        },
      },
      { selector: "node[role = 'voter']", style: { shape: "hexagon", width: 32, height: 30 } },
      { selector: "node[role = 'observer']", style: { shape: "ellipse" } },
      { selector: "node[role = 'client']", style: { shape: "round-rectangle", width: 22, height: 22 } },
      { selector: "node.offline", style: { "background-color": c.offline, color: c.muted } },
      { selector: "node.exit", style: { "border-width": 4, "border-color": c.exit } },
      {
        selector: "node.relay",
        style: { "border-width": 7, "border-style": "double", "border-color": c.relay },
      },
      { selector: "node.exit.relay", style: { "border-color": c.exit } },
      { selector: "node.leader", style: { "font-weight": "bold" } },
      {
        selector: "node.picked",
        style: { "overlay-color": c.relayed, "overlay-opacity": 0.25, "overlay-padding": 6 },
      },
      {
        selector: "edge",
        style: { width: 1.5, "line-color": c.direct, "curve-style": "haystack", "haystack-radius": 0 },
      },
      {
        selector: "edge.relayed",
        style: {
          "curve-style": "straight", "line-style": "dashed", "line-color": c.relayed, width: 2,
          label: "data(label)", color: c.relayed, "font-size": 10, "text-rotation": "autorotate",
          "text-background-color": c.back, "text-background-opacity": 1, "text-background-padding": 2,
          "min-zoomed-font-size": 7,
        },
      },
      {
        selector: "edge.punching",
        style: { "curve-style": "straight", "line-style": "dotted", "line-color": c.punching, width: 2.5 },
      },
      { selector: "edge.down", style: { opacity: 0.3 } },
    ];
  }

  function initGraph() {
    if (typeof window.cytoscape !== "function") {
      setText($("graph"), "the graph library did not load");
      return;
    }
    const container = $("graph");
    view.cy = window.cytoscape({
      container,
      style: graphStyle(),
      layout: { name: "preset" },
      minZoom: 0.05,
      maxZoom: 4,
      boxSelectionEnabled: false,
      autounselectify: true, // picking is ours (select): a row and its node together
      motionBlur: false,
    });
    // panning or zooming by hand keeps that viewport when the mesh changes; "fit" gives it back
    for (const type of ["wheel", "mousedown", "touchstart"]) {
      container.addEventListener(type, () => (view.userMoved = true), { passive: true });
    }
    $("fit").addEventListener("click", () => {
      view.userMoved = false;
      view.cy.fit(undefined, 30);
    });
    view.cy.on("tap", (event) => {
      if (event.target === view.cy) select(""); // the background: pick none
      else if (event.target.isNode()) select(event.target.id(), { scroll: true });
    });
    window.webmeshGraph = view.cy; // for the console and the browser test
  }

  function nodeData(node) {
    const marks = [node.exit ? "exit" : "", node.relay ? "relay" : ""].filter(Boolean).join(" · ");
    return { id: node.id, role: node.role || "", label: marks ? `${node.id}\n${marks}` : node.id };
  }

  function nodeClasses(node, leader) {
    return [
      node.online ? "online" : "offline",
      node.exit ? "exit" : "", node.relay ? "relay" : "", node.id === leader ? "leader" : "",
      node.id === view.selected ? "picked" : "",
    ].filter(Boolean).join(" ");
  }

  function edgeId(edge) {
    const [a, b] = edge.source < edge.target ? [edge.source, edge.target] : [edge.target, edge.source];
    return `${a} ${b}`;
  }

  // Rings: every node on one circle for a small mesh; otherwise voters on the inner rings, then
  // observers, then clients, each ring as full as its circumference allows. O(n), deterministic.
  function ringPositions(nodes) {
    const sorted = [...nodes].sort(byRoleThenId);
    const positions = new Map();
    const spacing = 64;
    if (sorted.length === 1) {
      positions.set(sorted[0].id, { x: 0, y: 0 });
      return positions;
    }
    const place = (group, radius, turn) => {
      group.forEach((node, k) => {
        const angle = -Math.PI / 2 + turn + (2 * Math.PI * k) / group.length;
        positions.set(node.id, { x: radius * Math.cos(angle), y: radius * Math.sin(angle) });
      });
    };
    if (sorted.length <= SMALL_MESH) {
      place(sorted, Math.max(110, (spacing * 1.6 * sorted.length) / (2 * Math.PI)), 0);
      return positions;
    }
    let ring = 1;
    for (const role of ["voter", "observer", "client", "other"]) {
      const group = sorted.filter((n) => (n.role in ROLE_RANK ? n.role : "other") === role);
      for (let i = 0; i < group.length; ring += 1) {
        const radius = 90 * ring;
        const fits = Math.max(6, Math.floor((2 * Math.PI * radius) / spacing));
        place(group.slice(i, i + fits), radius, ring * 0.37);
        i += fits;
      }
    }
    return positions;
  }

  // What the graph should show: element definitions by id, nodes first.
  function graphElements(state) {
    const leader = state.mesh.leader;
    const online = new Map(state.nodes.map((n) => [n.id, n.online]));
    const wanted = new Map();
    for (const node of state.nodes) {
      wanted.set(node.id, { group: "nodes", data: nodeData(node), classes: nodeClasses(node, leader) });
    }
    for (const edge of state.edges || []) {
      if (!online.has(edge.source) || !online.has(edge.target)) continue;
      const id = edgeId(edge);
      const path = edge.path || "direct";
      const label = path === "relayed" && edge.relayed_by ? `via ${edge.relayed_by}` : "";
      const down = online.get(edge.source) && online.get(edge.target) ? "" : " down";
      const data = { id, source: edge.source, target: edge.target, label, why: edge.why || "" };
      wanted.set(id, { group: "edges", data, classes: `${path}${down}` });
    }
    return wanted;
  }

  function signature(element) {
    const { label, role, why } = element.data;
    return `${element.classes}|${label}|${role || ""}|${why || ""}`;
  }

  // Changes the graph in place: removes, restyles and adds only what differs from the last
  // state (view.drawn holds each drawn element's signature); places the nodes again only when
  // nodes came or went.
  function renderGraph(state) {
    const cy = view.cy;
    if (!cy) return;
    const wanted = graphElements(state);
    const added = [];
    let nodesChanged = false;
    cy.batch(() => {
      const gone = [...view.drawn.keys()].filter((id) => !wanted.has(id));
      for (const id of gone) {
        const element = cy.getElementById(id);
        nodesChanged = nodesChanged || element.isNode();
        element.remove(); // a node's edges go with it
        view.drawn.delete(id);
      }
      for (const [id, element] of wanted) {
        const sig = signature(element);
        const before = view.drawn.get(id);
        if (before === sig) continue;
        view.drawn.set(id, sig);
        if (before === undefined) {
          added.push(element);
          nodesChanged = nodesChanged || element.group === "nodes";
          continue;
        }
        const drawn = cy.getElementById(id);
        drawn.data({ label: element.data.label, role: element.data.role, why: element.data.why });
        drawn.classes(element.classes);
      }
      if (nodesChanged) {
        const positions = ringPositions(state.nodes);
        for (const element of added) {
          if (element.group === "nodes") element.position = positions.get(element.data.id);
        }
        cy.nodes().positions((node) => positions.get(node.id()));
      }
      cy.add(added);
    });
    if (nodesChanged && !view.userMoved) cy.fit(undefined, 30);
    $("edges-note").hidden = state.edges_complete !== false;
  }

  // ---- the live feed ----

  function apply(state) {
    const started = performance.now();
    view.at = state.mesh.at || Date.now() / 1000;
    view.received = Date.now();
    view.leader = state.mesh.leader || "";
    view.servedBy = state.mesh.served_by || "";
    renderHeader(state.mesh);
    renderNodes(state.nodes || []);
    renderGraph(state);
    renderPolicy(state);
    window.__updates = (window.__updates || 0) + 1;
    window.__applyMs = performance.now() - started; // the last update's cost, for profiling
  }

  function connect(delay) {
    setLive(delay ? "reconnecting" : "connecting");
    const source = new EventSource("/api/events");
    source.addEventListener("open", () => setLive("live"));
    source.addEventListener("state", (event) => {
      setLive("live");
      apply(JSON.parse(event.data));
    });
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        // the browser gave up (an HTTP error, not a dropped stream): try again, backing off
        const next = Math.min(30000, (delay || 1000) * 2);
        setLive("reconnecting");
        setTimeout(() => connect(next), next);
      } else {
        setLive("reconnecting"); // the browser retries by itself
      }
    });
  }

  function start() {
    initGraph();
    $("filter").addEventListener("input", applyFilter);
    setInterval(tickAges, 1000);
    connect(0);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
