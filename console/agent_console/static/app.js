// agent-dashboard's page: Vue 3 (the global build, shipped in the package), the
// REST API under api/v1, and Server-Sent Events from api/v1/stream for live updates.
"use strict";
const { createApp, ref, computed, watch, onMounted, onBeforeUnmount, nextTick, shallowRef, h } = Vue;

const COLOURS = {
  Succeeded: "#2e7d32", Failed: "#c62828", Running: "#1565c0", Retrying: "#ef6c00",
  Queued: "#6a1b9a", Blocked: "#757575", Cancelled: "#4e342e", Pending: "#9e9e9e",
  AwaitingReview: "#00838f", Rejected: "#ad1457",
};
const API = "api/v1";

async function getJSON(path) {
  const answer = await fetch(`${API}/${path}`, { headers: { Accept: "application/json" } });
  if (!answer.ok) {
    let detail = answer.statusText;
    try { detail = (await answer.json()).detail || detail; } catch (_) { /* not JSON */ }
    throw new Error(`${answer.status}: ${detail}`);
  }
  return answer.json();
}

// The page's templates (the text/x-template scripts of index.html) as render functions:
// compiled when the page is built (hack/build-web.sh writes static/vendor/templates.js),
// else by Vue in the browser.
const RENDERS = window.AO_RENDERS || {};
function view(name) {
  const render = RENDERS[name];
  if (render) return { render };
  return { template: document.getElementById(`tpl-${name}`).textContent };
}

// The first document is fetched while Vue sets the page up.
let early = null;

function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (parts[0] === "plan" && parts.length >= 3) return { name: "plan", namespace: parts[1], id: parts[2] };
  if (parts[0] === "task" && parts.length >= 3) return { name: "task", namespace: parts[1], id: parts[2] };
  return { name: "plans" };
}

function documentPath(r) {
  const ns = encodeURIComponent(r.namespace || ""), id = encodeURIComponent(r.id || "");
  if (r.name === "plan") return `namespaces/${ns}/plans/${id}`;
  if (r.name === "task") return `namespaces/${ns}/tasks/${id}`;
  return "plans";
}
early = { path: documentPath(parseRoute()), answer: getJSON(documentPath(parseRoute())) };
early.answer.catch(() => {}); // reported when it is used

// ------------------------------------------------------------------ graph layout

// Layers by longest path from the roots (left to right); within a layer, tasks are
// ordered by the mean position of their dependencies, which keeps edges short.
function layout(tasks) {
  const byId = new Map(tasks.map((t) => [t.taskId, t]));
  const level = new Map();
  const visiting = new Set();
  function depth(id) {
    if (level.has(id)) return level.get(id);
    if (visiting.has(id)) return 0; // a cycle: the operator reports it; draw it anyway
    visiting.add(id);
    let d = 0;
    for (const dep of byId.get(id).dependsOn) if (byId.has(dep)) d = Math.max(d, depth(dep) + 1);
    visiting.delete(id);
    level.set(id, d);
    return d;
  }
  tasks.forEach((t) => depth(t.taskId));
  const layers = [];
  for (const t of tasks) (layers[level.get(t.taskId)] ||= []).push(t.taskId);
  const row = new Map();
  layers.forEach((ids, i) => {
    if (i > 0) {
      const key = (id) => {
        const deps = byId.get(id).dependsOn.filter((d) => row.has(d));
        return deps.length ? deps.reduce((s, d) => s + row.get(d), 0) / deps.length : 1e9;
      };
      const keys = new Map(ids.map((id) => [id, key(id)]));
      ids.sort((a, b) => keys.get(a) - keys.get(b) || (a < b ? -1 : 1));
    } else ids.sort();
    ids.forEach((id, j) => row.set(id, j));
  });
  const W = 150, H = 34, GX = 70, GY = 12;
  const pos = new Map();
  for (const t of tasks) {
    pos.set(t.taskId, { x: level.get(t.taskId) * (W + GX), y: row.get(t.taskId) * (H + GY), w: W, h: H });
  }
  const width = layers.length * (W + GX);
  const height = Math.max(...layers.map((l) => l.length), 1) * (H + GY);
  return { pos, width, height };
}

function escapeXml(text) {
  return String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

function shapeOf(tasks) {
  return tasks.map((t) => t.taskId + ":" + t.dependsOn.join(",")).join(";");
}

function edgesOf(tasks, pos) {
  const out = [];
  for (const t of tasks) {
    for (const dep of t.dependsOn) {
      const a = pos.get(dep), b = pos.get(t.taskId);
      if (!a || !b) continue;
      const x1 = a.x + a.w, y1 = a.y + a.h / 2, x2 = b.x, y2 = b.y + b.h / 2, mx = (x1 + x2) / 2;
      out.push({ from: dep, to: t.taskId, d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}` });
    }
  }
  return out;
}

const LABELS_FROM_SCALE = 0.36;

// The graph is drawn with plain SVG, not one Vue component or vnode per task: the nodes
// are one string of markup set at once (a 500-task plan is one parse and one layout),
// the edges one path, and selection and pan/zoom change attributes in place.
const DagGraph = {
  props: ["tasks", "selected"],
  emits: ["select", "open"],
  setup(props, { emit, expose }) {
    const svg = ref(null), root = ref(null), edgePath = ref(null), hotPath = ref(null), layer = ref(null);
    const view = { x: 10, y: 10, k: 1 };
    let shape = null, geometry = null, edges = [], byId = new Map();

    function place() {
      if (!root.value) return;
      root.value.setAttribute("transform", `translate(${view.x},${view.y}) scale(${view.k})`);
      // Labels smaller than 4 pixels are unreadable: they are left out (not laid out at
      // all) until the graph is zoomed in.
      svg.value.classList.toggle("far", view.k < LABELS_FROM_SCALE);
    }
    function fit() {
      const el = svg.value;
      if (!el || !geometry) return;
      const { width, height } = geometry;
      const box = el.getBoundingClientRect();
      view.k = Math.min(1.2, Math.max(0.05, Math.min((box.width - 20) / width, (box.height - 20) / height)));
      view.x = 10; view.y = 10;
      place();
    }
    // What blocks the selected task: its unfinished dependencies, and theirs.
    function blockingOf(selected) {
      const found = new Set();
      const stack = selected ? [selected] : [];
      while (stack.length) {
        const t = byId.get(stack.pop());
        if (!t) continue;
        for (const dep of t.dependsOn) {
          const d = byId.get(dep);
          if (d && d.phase !== "Succeeded" && !found.has(dep)) { found.add(dep); stack.push(dep); }
        }
      }
      return found;
    }
    function mark() {
      if (!layer.value) return;
      const selected = props.selected;
      const blocking = blockingOf(selected);
      for (const el of layer.value.querySelectorAll("g.node.selected, g.node.blocking")) el.classList.remove("selected", "blocking");
      for (const el of layer.value.children) {
        const id = el.dataset.taskId;
        if (id === selected) el.classList.add("selected");
        if (blocking.has(id)) el.classList.add("blocking");
      }
      const hot = selected ? edges.filter((e) => blocking.has(e.from) && (blocking.has(e.to) || e.to === selected)).map((e) => e.d).join(" ") : "";
      if (hot) hotPath.value.setAttribute("d", hot); else hotPath.value.removeAttribute("d");
    }
    function draw() {
      if (!layer.value) return;
      const tasks = props.tasks || [];
      byId = new Map(tasks.map((t) => [t.taskId, t]));
      const next = shapeOf(tasks);
      if (next !== shape) {
        shape = next;
        geometry = layout(tasks);
        edges = edgesOf(tasks, geometry.pos);
        edgePath.value.setAttribute("d", edges.map((e) => e.d).join(" "));
        layer.value.textContent = ""; // measured without the old nodes: no layout of them
        fit();
      }
      let markup = "";
      for (const t of tasks) {
        const p = geometry.pos.get(t.taskId), id = escapeXml(t.taskId);
        markup += `<g class="node" data-task-id="${id}" data-phase="${escapeXml(t.phase)}" transform="translate(${p.x},${p.y})">` +
          `<rect width="${p.w}" height="${p.h}" rx="6" fill="${COLOURS[t.phase] || "#999"}"></rect>` +
          `<text x="8" y="14">${id}<tspan x="8" y="27" class="sub">${escapeXml(t.title.slice(0, 22))}</tspan></text></g>`;
      }
      layer.value.innerHTML = markup;
      mark();
    }

    let drag = null;
    function down(e) { drag = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y, moved: false }; }
    function move(e) {
      if (!drag) return;
      const dx = e.clientX - drag.x, dy = e.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      view.x = drag.vx + dx; view.y = drag.vy + dy;
      place();
    }
    function up() { setTimeout(() => { drag = null; }, 0); }
    function wheel(e) {
      e.preventDefault();
      const box = svg.value.getBoundingClientRect();
      const px = e.clientX - box.left, py = e.clientY - box.top;
      const factor = Math.exp(-e.deltaY * 0.0015);
      const k = Math.min(4, Math.max(0.03, view.k * factor));
      view.x = px - ((px - view.x) * k) / view.k;
      view.y = py - ((py - view.y) * k) / view.k;
      view.k = k;
      place();
    }
    function nodeOf(e) {
      const el = e.target.closest && e.target.closest("g.node");
      return el ? el.dataset.taskId : null;
    }
    function click(e) {
      const id = nodeOf(e);
      if (id === null || (drag && drag.moved)) return;
      e.stopPropagation();
      emit("select", id === props.selected ? null : id);
    }
    function dblclick(e) {
      const id = nodeOf(e);
      if (id !== null && byId.has(id)) { e.stopPropagation(); emit("open", byId.get(id)); }
    }
    onMounted(draw);
    watch(() => props.tasks, draw, { flush: "post" });
    watch(() => props.selected, mark, { flush: "post" });
    expose({ fit });
    return () => h("div", { class: "graph-wrap" }, [
      h("button", { class: "fit", onClick: fit }, "fit"),
      h("svg", {
        ref: svg, class: "graph", id: "graph", onMousedown: down, onMousemove: move, onMouseup: up,
        onMouseleave: up, onWheel: wheel, onClick: click, onDblclick: dblclick,
      }, [
        h("g", { ref: root }, [
          h("path", { ref: edgePath, class: "edge" }),
          h("path", { ref: hotPath, class: "edge hot" }),
          h("g", { ref: layer }),
        ]),
      ]),
    ]);
  },
};

// ------------------------------------------------------------------ timeline

const TimeLine = {
  props: ["tasks", "now", "namespace"],
  setup(props) {
    const rows = computed(() => {
      const found = props.tasks.filter((t) => t.history.length)
        .map((t) => ({ t, start: Date.parse(t.history[0].startTime || 0) }))
        .sort((a, b) => a.start - b.start).slice(-300);
      return found.map((r) => r.t);
    });
    const span = computed(() => {
      const now = Date.parse(props.now) || Date.now();
      let lo = Infinity, hi = -Infinity;
      for (const t of rows.value) for (const a of t.history) {
        const s = Date.parse(a.startTime), e = a.completionTime ? Date.parse(a.completionTime) : now;
        if (!isNaN(s)) lo = Math.min(lo, s);
        if (!isNaN(e)) hi = Math.max(hi, e);
      }
      if (!isFinite(lo)) { lo = now - 60000; hi = now; }
      return { lo, hi: Math.max(hi, lo + 1000), now };
    });
    const W = 900, LABEL = 90, H = 14;
    function bar(a) {
      const { lo, hi, now } = span.value;
      const s = Date.parse(a.startTime), e = a.completionTime ? Date.parse(a.completionTime) : now;
      const x = LABEL + ((s - lo) / (hi - lo)) * (W - LABEL);
      return { x, w: Math.max(2, ((e - s) / (hi - lo)) * (W - LABEL)) };
    }
    return { rows, span, bar, W, LABEL, H, colours: COLOURS };
  },
  ...view("time-line"),
};

// ------------------------------------------------------------------ small tables

const AgentsTable = {
  props: ["agents"],
  methods: { age: (s) => (s == null ? "-" : s < 120 ? `${Math.round(s)}s` : `${Math.round(s / 60)}m`) },
  ...view("agents-table"),
};

const RecentTable = {
  props: ["items"],
  ...view("recent-table"),
};

// ------------------------------------------------------------------ the app

const app = createApp({
  ...view("app"),
  setup() {
    const route = ref(parseRoute());
    // Documents are replaced whole on each change, never edited: shallow refs keep Vue
    // from wrapping every task of a large plan in a reactive proxy.
    const plans = shallowRef([]);
    const plan = shallowRef(null);
    const task = shallowRef(null);
    const agents = shallowRef({ items: [], byProfile: [] });
    const recent = shallowRef([]);
    const generated = ref(null);
    const error = ref("");
    const live = ref(false);
    const selected = ref(null);
    const timeline = ref(false);
    let loading = false, again = false, loaded = -1, announced = -1;

    function get(path) {
      if (early && early.path === path) { const answer = early.answer; early = null; return answer; }
      return getJSON(path);
    }

    async function load() {
      if (loading) { again = true; return; }
      loading = true;
      try {
        const r = route.value;
        if (r.name === "plans") {
          const [p, a, c] = await Promise.all([get("plans"), getJSON("agents"), getJSON("recent?limit=15")]);
          plans.value = p.items; agents.value = a; recent.value = c.items; generated.value = p.generated; loaded = p.version;
        } else if (r.name === "plan") {
          const q = `namespace=${encodeURIComponent(r.namespace)}&plan=${encodeURIComponent(r.id)}`;
          const running = getJSON(`agents?${q}`); // beside the plan, not before it
          const p = await get(documentPath(r));
          performance.mark("plan-data");
          plan.value = p; generated.value = p.generated; loaded = p.version;
          await nextTick();
          performance.mark("plan-rendered");
          // after the next frame is painted (a task for after the frame's rendering)
          requestAnimationFrame(() => setTimeout(() => performance.mark("plan-painted"), 0));
          agents.value = await running;
          if (!timeline.value) setTimeout(() => { timeline.value = true; }, 0); // after the graph
        } else {
          task.value = await get(documentPath(r));
          generated.value = task.value.generated; loaded = task.value.version;
        }
        error.value = "";
        document.body.dataset.version = String(generated.value);
      } catch (e) {
        error.value = String(e.message || e);
      } finally {
        loading = false;
        if (again || announced > loaded) { again = false; load(); }
      }
    }

    let source = null;
    function connect() {
      source = new EventSource(`${API}/stream`);
      source.addEventListener("open", () => { live.value = true; });
      source.addEventListener("change", (e) => {
        live.value = true;
        let version = Infinity;
        try { version = JSON.parse(e.data).version; } catch (_) { /* reload */ }
        announced = Math.max(announced, version);
        if (!loading && version > loaded) load(); // else: checked when the load in flight ends
      });
      source.addEventListener("error", () => { live.value = false; });
    }
    function onHash() { loaded = -1; route.value = parseRoute(); plan.value = route.value.name === "plan" ? plan.value : null; task.value = null; selected.value = null; load(); }
    onMounted(() => { window.addEventListener("hashchange", onHash); connect(); load(); });
    onBeforeUnmount(() => { if (source) source.close(); });

    const selectedRow = computed(() => plan.value && plan.value.tasks.find((t) => t.taskId === selected.value));
    const blockers = computed(() => {
      if (!plan.value || !selectedRow.value) return [];
      const byId = new Map(plan.value.tasks.map((t) => [t.taskId, t]));
      const path = [];
      let cur = selectedRow.value;
      const seen = new Set();
      while (cur) {
        const next = cur.dependsOn.map((d) => byId.get(d)).find((d) => d && d.phase !== "Succeeded" && !seen.has(d.taskId));
        if (!next) break;
        seen.add(next.taskId); path.push(`${next.taskId} (${next.phase})`); cur = next;
      }
      return path;
    });
    const failures = computed(() => (plan.value ? plan.value.tasks.filter((t) => t.phase === "Failed" || t.phase === "Retrying" || (t.history.length && t.history[t.history.length - 1].outcome === "Failed")) : []));
    function openTask(t) { location.hash = `#/task/${plan.value.namespace}/${t.name}`; }
    return {
      route, plans, plan, task, agents, recent, generated, error, live, selected, timeline, selectedRow, blockers, failures, openTask,
      colours: COLOURS,
      money: (v) => `$${(v || 0).toFixed(2)}`,
      // The tightest window of a plan's budget: "$1.20 of $10.00 left (today)".
      budgetLeft: (b) => {
        const windows = [["total", b.total], ["today", b.daily]].filter((w) => w[1]);
        const [name, w] = windows.reduce((a, c) => (c[1].remainingUSD < a[1].remainingUSD ? c : a));
        return `$${w.remainingUSD.toFixed(2)} of $${w.limitUSD.toFixed(2)} left${name === "today" ? " today" : ""}`;
      },
      num: (v) => String(Math.round(v || 0)).replace(/\B(?=(\d{3})+(?!\d))/g, ","), // no Intl: it costs a first render
      time: (s) => (s ? new Date(s).toLocaleString() : "-"),
      seconds: (s) => (s == null ? "-" : s < 120 ? `${s.toFixed(1)}s` : `${Math.round(s / 60)}m`),
      lastReason: (t) => { const h = t.history.filter((a) => a.outcome === "Failed"); return h.length ? h[h.length - 1].reason : ""; },
      eta: (p) => {
        if (p.total && p.counts.succeeded === p.total) return "done";
        if (!p.eta) return "-";
        const s = (Date.parse(p.eta) - Date.now()) / 1000;
        return s <= 0 ? "now" : s < 120 ? `${Math.round(s)}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${(s / 3600).toFixed(1)}h`;
      },
    };
  },
});
app.component("dag-graph", DagGraph);
app.component("time-line", TimeLine);
app.component("agents-table", AgentsTable);
app.component("recent-table", RecentTable);
app.mount("#app");
