// ladderforge A/B cost report: recomputes every figure from the embedded ladders and the
// assumptions in the page, so that editing a price or the views updates the totals, the tables
// and the charts without a rerun. The cost model mirrors ladderforge.policy.cost (tiered
// marginal egress, storage over the storage months, CPU- or GPU-hours, viewing shares from the
// bandwidth mix); the page shows the Python totals beside its own at load for a check.
"use strict";

async function lfLoadPlotly(marks) {
  const b64 = document.getElementById("lf-plotly").textContent.trim();
  const blob = await (await fetch("data:application/gzip;base64," + b64)).blob();
  const stream = blob.stream().pipeThrough(new DecompressionStream("gzip"));
  const code = await new Response(stream).text();
  marks.unzipped = performance.now();
  const script = document.createElement("script");
  script.textContent = code;
  document.head.appendChild(script);
}

function lfTiered(volume, tiers) {
  let total = 0, lower = 0;
  for (const [upper, price] of tiers) {
    const up = upper === null ? Infinity : upper;
    if (volume <= lower) break;
    total += (Math.min(volume, up) - lower) * price;
    lower = up;
  }
  return total;
}

function lfEgressUsd(gb, a) {
  const months = Math.max(a.storage_months, 1e-9);
  const base = a.platform_egress_tb_month * 1000;
  return months * (lfTiered(base + gb / months, a.egress_tiers) - lfTiered(base, a.egress_tiers));
}

function lfMarginalPrice(a) {
  const base = a.platform_egress_tb_month * 1000;
  for (const [upper, price] of a.egress_tiers) {
    if (upper === null || base < upper) return price;
  }
  return a.egress_tiers[a.egress_tiers.length - 1][1];
}

function lfShares(kbps, mix) {
  const shares = kbps.map(() => 0);
  for (const [bw, share] of mix) {
    let best = 0;
    kbps.forEach((k, i) => { if (k <= bw) best = i; });
    shares[best] += share;
  }
  return shares;
}

// rungs: [w, h, kbps, vmaf, neg, cpu_s, measured, plain_vmaf, enhanced]
// (vmaf: delivered, after the enhancement stage where it is on; plain_vmaf: without the stage,
// null for a ladder without it)
function lfTitleCost(t, a) {
  const views = (t.view_hours === null ? a.default_view_hours : t.view_hours) * a.views_multiplier;
  const kbps = t.rungs.map((r) => r[2]);
  const sh = lfShares(kbps, a.bandwidth_mix);
  let encode = 0, storageGb = 0, deliveredGb = 0, vwKbps = 0, vwVmaf = 0, vwNeg = 0, perVh = 0;
  let hasNeg = true, vwPlain = 0, hasPlain = true, enhanced = 0;
  const price = lfMarginalPrice(a);
  t.rungs.forEach((r, i) => {
    if (t.device === "gpu") {
      encode += a.nvenc_fps ? t.frames / a.nvenc_fps / 3600 * a.gpu_hour_usd : 0;
    } else {
      encode += r[5] / 3600 * a.cpu_hour_usd;
    }
    storageGb += r[2] * t.duration_s / 8 / 1e6;
    deliveredGb += r[2] * 3600 * views * sh[i] / 8 / 1e6;
    vwKbps += sh[i] * r[2];
    vwVmaf += sh[i] * r[3];
    if (r[4] === null) hasNeg = false; else vwNeg += sh[i] * r[4];
    if (r[7] === null || r[7] === undefined) hasPlain = false; else vwPlain += sh[i] * r[7];
    if (r[8]) enhanced += 1;
    perVh += sh[i] * r[2] * 3600 / 8 / 1e6 * price;
  });
  const storage = storageGb * a.storage_gb_month_usd * a.storage_months;
  const egress = lfEgressUsd(deliveredGb, a);
  const managed = a.managed_usd_per_minute === null ? null
    : t.duration_s / 60 * t.rungs.length * a.managed_usd_per_minute;
  return {
    views, encode, storage, egress, total: encode + storage + egress, storageGb, deliveredGb,
    vwKbps, vwVmaf, vwNeg: hasNeg ? vwNeg : null, perVh, fixed: encode + storage, managed,
    vwPlain: hasPlain ? vwPlain : null, enhanced,
  };
}

function lfBreakEven(ca, cb) {
  const extra = cb.fixed - ca.fixed, saved = ca.perVh - cb.perVh;
  if (extra <= 0) return saved >= 0 ? 0 : null;
  if (saved <= 0) return null;
  return extra / saved;
}

const lfNumberFormats = [0, 1, 2].map((d) =>
  new Intl.NumberFormat("en-US", { maximumFractionDigits: d, minimumFractionDigits: d }));
const lfFmt = {
  usd: (x) => x === null ? "–" : (x < 0 ? "−$" : "$") + lfNumberFormats[2].format(Math.abs(x)),
  num: (x, d = 1) => x === null ? "–" : lfNumberFormats[d].format(x),
  pct: (x) => x === null || !isFinite(x) ? "–" : (100 * x).toFixed(1) + " %",
  views: (x) => x === null ? "never" : lfNumberFormats[0].format(x),
};

function lfCompute(D, a) {
  const rows = D.titles.map((name, i) => {
    const ca = lfTitleCost(D.a[i], a), cb = lfTitleCost(D.b[i], a);
    return { name, ca, cb, saving: ca.total > 0 ? 1 - cb.total / ca.total : null, be: lfBreakEven(ca, cb) };
  });
  const sum = (side, key) => rows.reduce((s, r) => s + (r[side][key] || 0), 0);
  const weighted = (side, key) => {
    const v = rows.reduce((s, r) => s + r[side].views, 0);
    if (rows.some((r) => r[side][key] === null)) return null;
    return v > 0 ? rows.reduce((s, r) => s + r[side].views * r[side][key], 0) / v : null;
  };
  const totals = {};
  for (const side of ["ca", "cb"]) {
    totals[side] = {
      encode: sum(side, "encode"), storage: sum(side, "storage"), egress: sum(side, "egress"),
      total: sum(side, "total"), storageGb: sum(side, "storageGb"), deliveredGb: sum(side, "deliveredGb"),
      vwKbps: weighted(side, "vwKbps"), vwVmaf: weighted(side, "vwVmaf"), vwNeg: weighted(side, "vwNeg"),
      vwPlain: weighted(side, "vwPlain"),
      managed: a.managed_usd_per_minute === null ? null : sum(side, "managed"),
    };
  }
  return { rows, totals };
}

function lfTotalsTable(D, res) {
  const ta = res.totals.ca, tb = res.totals.cb;
  const line = (label, key, fmt, id) => {
    const x = ta[key], y = tb[key];
    const diff = x === null || y === null ? null : y - x;
    const rel = x ? diff / x : null;
    return `<tr><th>${label}</th><td id="${id}-a">${fmt(x)}</td><td id="${id}-b">${fmt(y)}</td>` +
      `<td>${fmt(diff)}</td><td>${lfFmt.pct(rel)}</td></tr>`;
  };
  const n1 = (x) => lfFmt.num(x, 1), n2 = (x) => lfFmt.num(x, 2);
  document.getElementById("lf-totals").innerHTML =
    `<tr><th></th><th>A: ${D.names.a}</th><th>B: ${D.names.b}</th><th>B − A</th><th>B vs A</th></tr>` +
    line("encode", "encode", lfFmt.usd, "encode") + line("storage", "storage", lfFmt.usd, "storage") +
    line("egress", "egress", lfFmt.usd, "egress") + line("total", "total", lfFmt.usd, "total") +
    line("stored GB", "storageGb", n1, "storage-gb") + line("delivered GB", "deliveredGb", n1, "egress-gb") +
    line("view-weighted kbps", "vwKbps", n1, "vw-kbps") + line("view-weighted VMAF", "vwVmaf", n2, "vw-vmaf") +
    line("view-weighted VMAF NEG", "vwNeg", n2, "vw-neg") +
    (ta.vwPlain === null && tb.vwPlain === null ? "" :
      line("view-weighted VMAF, players without the enhancement stage", "vwPlain", n2, "vw-plain")) +
    line("managed service, same rendition-minutes (reference)", "managed", lfFmt.usd, "managed");
}

function lfTitleTable(res) {
  const head = "<tr><th>title</th><th>view-hours</th><th>A total</th><th>B total</th><th>saving</th>" +
    "<th>A VMAF (vw)</th><th>B VMAF (vw)</th><th>A kbps (vw)</th><th>B kbps (vw)</th><th>break-even view-hours</th></tr>";
  const body = res.rows.map((r) =>
    `<tr><td>${r.name}</td><td>${lfFmt.views(r.cb.views)}</td><td>${lfFmt.usd(r.ca.total)}</td>` +
    `<td>${lfFmt.usd(r.cb.total)}</td><td>${lfFmt.pct(r.saving)}</td><td>${lfFmt.num(r.ca.vwVmaf, 2)}</td>` +
    `<td>${lfFmt.num(r.cb.vwVmaf, 2)}</td><td>${lfFmt.num(r.ca.vwKbps, 0)}</td><td>${lfFmt.num(r.cb.vwKbps, 0)}</td>` +
    `<td>${lfFmt.views(r.be)}</td></tr>`).join("");
  document.getElementById("lf-titles").innerHTML = head + body;
}

function lfRungTable(D, i, a) {
  const part = (side, t) => {
    const sh = lfShares(t.rungs.map((r) => r[2]), a.bandwidth_mix);
    return t.rungs.map((r, j) => `<tr><td>${side}</td><td>${r[0]}x${r[1]}</td><td>${lfFmt.num(r[2], 0)}</td>` +
      `<td>${lfFmt.num(r[3], 2)}${r[8] ? ` (enhanced; ${lfFmt.num(r[7], 2)} without)` : ""}</td>` +
      `<td>${r[4] === null ? "–" : lfFmt.num(r[4], 2)}</td>` +
      `<td>${lfFmt.num(r[5], 1)}</td><td>${lfFmt.pct(sh[j])}</td><td>${r[6] ? "measured" : "predicted"}</td></tr>`).join("");
  };
  document.getElementById("lf-rungs").innerHTML =
    "<tr><th>ladder</th><th>size</th><th>kbps</th><th>VMAF</th><th>VMAF NEG</th><th>encode CPU s</th><th>view share</th><th></th></tr>" +
    part("A", D.a[i]) + part("B", D.b[i]);
}

const lfLayout = (title, x, y, extra = {}) => Object.assign({
  title: { text: title }, xaxis: { title: { text: x } }, yaxis: { title: { text: y } },
  margin: { l: 60, r: 20, t: 40, b: 50 }, height: 360, legend: { orientation: "h" },
}, extra);

function lfCharts(D, res, a, sel, marks) {
  const ta = res.totals.ca, tb = res.totals.cb, cats = ["encode", "storage", "egress", "total"];
  const jobs = [];
  const timed = (id, data, layout) => {
    const t0 = performance.now();
    jobs.push(Plotly.react(id, data, layout, { displaylogo: false }));
    marks[id] = Math.round(performance.now() - t0);
  };
  timed("lf-chart-totals", [
    { type: "bar", name: "A: " + D.names.a, x: cats, y: cats.map((c) => ta[c]) },
    { type: "bar", name: "B: " + D.names.b, x: cats, y: cats.map((c) => tb[c]) },
  ], lfLayout("Totals (USD)", "", "USD", { barmode: "group" }));
  const bins = lfBins(res.rows.map((r) => r.saving === null ? null : 100 * r.saving), 40);
  timed("lf-chart-savings", [
    { type: "bar", x: bins.centers, y: bins.counts, width: bins.width, name: "titles" },
  ], lfLayout("Saving of B over A per title", "saving of total cost (%)", "titles"));
  timed("lf-chart-scatter", [
    { type: "scatter", mode: "markers", x: res.rows.map((r) => r.ca.total), y: res.rows.map((r) => r.cb.total),
      text: res.rows.map((r) => r.name), name: "titles", marker: { size: 5 } },
  ], lfLayout("Total cost per title", "A (USD)", "B (USD)", { xaxis: { type: "log", title: { text: "A (USD)" } }, yaxis: { type: "log", title: { text: "B (USD)" } } }));
  timed("lf-chart-quality", [
    { type: "scatter", mode: "markers", x: res.rows.map((r) => r.ca.vwVmaf), y: res.rows.map((r) => r.cb.vwVmaf),
      text: res.rows.map((r) => r.name), name: "VMAF", marker: { size: 5 } },
    { type: "scatter", mode: "markers", x: res.rows.map((r) => r.ca.vwNeg), y: res.rows.map((r) => r.cb.vwNeg),
      text: res.rows.map((r) => r.name), name: "VMAF NEG", marker: { size: 5 },
      visible: res.rows.length > 200 ? "legendonly" : true },
  ], lfLayout("View-weighted quality per title", "A", "B"));
  const rd = (t, name) => ({ type: "scatter", mode: "lines+markers", name,
    x: t.rungs.map((r) => r[2]), y: t.rungs.map((r) => r[3]), text: t.rungs.map((r) => r[0] + "x" + r[1]) });
  timed("lf-chart-rd", [rd(D.a[sel], "A: " + D.names.a), rd(D.b[sel], "B: " + D.names.b)],
    lfLayout("Ladders of " + D.titles[sel], "kbps", "VMAF", { xaxis: { type: "log", title: { text: "kbps" } } }));
  return Promise.all(jobs);
}

// a histogram as bars (the basic plotly bundle has no histogram trace)
function lfBins(values, n) {
  const xs = values.filter((v) => v !== null && isFinite(v));
  if (!xs.length) return { centers: [], counts: [], width: 1 };
  const lo = Math.min(...xs), hi = Math.max(...xs);
  const width = hi > lo ? (hi - lo) / n : 1;
  const counts = new Array(hi > lo ? n : 1).fill(0);
  xs.forEach((v) => { counts[Math.min(counts.length - 1, Math.floor((v - lo) / width))] += 1; });
  return { centers: counts.map((_, i) => lo + (i + 0.5) * width), counts, width };
}

function lfCsv(rows) {
  const esc = (v) => v === null || v === undefined ? "" : (typeof v === "string" && /[",\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : String(v));
  return rows.map((r) => r.map(esc).join(",")).join("\n") + "\n";
}

function lfDownload(name, text) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type: "text/csv" }));
  link.download = name;
  link.click();
}

function lfTitlesCsv(res) {
  const keys = ["views", "encode", "storage", "egress", "total", "storageGb", "deliveredGb", "vwKbps", "vwVmaf", "vwNeg"];
  const head = ["title", ...keys.map((k) => "a_" + k), ...keys.map((k) => "b_" + k), "saving", "break_even_view_hours"];
  return lfCsv([head, ...res.rows.map((r) => [r.name, ...keys.map((k) => r.ca[k]), ...keys.map((k) => r.cb[k]), r.saving, r.be])]);
}

function lfRungsCsv(D, a) {
  const rows = [["strategy", "title", "width", "height", "kbps", "vmaf", "vmaf_neg", "encode_cpu_s", "measured", "view_share"]];
  for (const [side, list] of [["A", D.a], ["B", D.b]]) {
    list.forEach((t) => {
      const sh = lfShares(t.rungs.map((r) => r[2]), a.bandwidth_mix);
      t.rungs.forEach((r, j) => rows.push([side, t.title, r[0], r[1], r[2], r[3], r[4], r[5], r[6], sh[j]]));
    });
  }
  return lfCsv(rows);
}

function lfReadInputs(a) {
  document.querySelectorAll("input[data-key]").forEach((el) => {
    const v = parseFloat(el.value);
    if (isFinite(v) && v >= 0) a[el.dataset.key] = v;
  });
  document.querySelectorAll("input[data-tier]").forEach((el) => {
    const v = parseFloat(el.value);
    if (isFinite(v) && v >= 0) a.egress_tiers[+el.dataset.tier][1] = v;
  });
  // the bandwidth mix: kbps and shares per class, shares scaled to sum to 1
  const kbps = [...document.querySelectorAll("input[data-mix-kbps]")].map((el) => parseFloat(el.value));
  const share = [...document.querySelectorAll("input[data-mix-share]")].map((el) => parseFloat(el.value));
  const total = share.reduce((s, v) => s + (isFinite(v) && v > 0 ? v : 0), 0);
  if (total > 0 && kbps.every((k) => isFinite(k) && k >= 0)) {
    a.bandwidth_mix = kbps.map((k, i) => [k, isFinite(share[i]) && share[i] > 0 ? share[i] / total : 0]);
  }
}

function lfInputs(D) {
  const a = D.assumptions, src = D.sources;
  const cite = (key) => {
    const s = src[key];
    if (!s) return "";
    const link = s.url ? ` <a href="${s.url}">${s.url}</a>` : "";
    return `<div class="src">${s.source || ""}${s.date ? " (" + s.date + ")" : ""}${link}</div>`;
  };
  const field = (key, label) => `<label>${label} <input type="number" step="any" min="0" data-key="${key}" ` +
    `id="lf-in-${key}" value="${a[key] === null ? "" : a[key]}"></label>${cite(key)}`;
  const tiers = a.egress_tiers.map(([up, p], i) => `<label>${up === null ? "above" : "up to " + (up / 1000).toLocaleString() + " TB"}` +
    ` <input type="number" step="any" min="0" data-tier="${i}" id="lf-in-tier-${i}" value="${p}"> USD/GB</label>`).join(" ");
  const mix = a.bandwidth_mix.map(([k, s], i) => `<label><input type="number" step="any" min="0" ` +
    `data-mix-kbps="${i}" id="lf-in-mix-kbps-${i}" value="${k}"> kbps: <input type="number" step="any" ` +
    `min="0" data-mix-share="${i}" id="lf-in-mix-share-${i}" value="${100 * s}"> %</label>`).join(" ");
  document.getElementById("lf-assumptions").innerHTML =
    field("views_multiplier", "views × (each title's view-hours times this)") +
    field("default_view_hours", "view-hours of a title whose ladder has none") + cite("expected_view_hours") +
    field("cpu_hour_usd", "CPU USD per vCPU-hour") + field("gpu_hour_usd", "GPU USD per hour") +
    field("nvenc_fps", "NVENC frames/s per GPU (modelled)") +
    field("storage_gb_month_usd", "storage USD per GB-month") + field("storage_months", "months stored") +
    field("platform_egress_tb_month", "platform's other egress, TB/month") +
    `<div class="tiers">egress tiers: ${tiers}</div>${cite("egress")}` +
    `<div>bandwidth mix (viewer classes; shares are scaled to 100 %): ${mix}</div>${cite("bandwidth_mix")}` +
    field("managed_usd_per_minute", "managed service USD per output minute (reference)");
}

(async function lfMain() {
  const marks = { start: performance.now() };
  const D = JSON.parse(document.getElementById("lf-data").textContent);
  marks.data = performance.now();
  await lfLoadPlotly(marks);
  marks.plotly = performance.now();
  const a = JSON.parse(JSON.stringify(D.assumptions));
  let sel = 0;
  lfInputs(D);
  const select = document.getElementById("lf-title-select");
  select.innerHTML = D.titles.map((t, i) => `<option value="${i}">${t}</option>`).join("");
  let res = null;
  const update = async () => {
    lfReadInputs(a);
    res = lfCompute(D, a);
    marks.compute = performance.now();
    lfTotalsTable(D, res);
    lfTitleTable(res);
    lfRungTable(D, sel, a);
    marks.tables = performance.now();
    await lfCharts(D, res, a, sel, marks);
    marks.charts = performance.now();
    document.body.dataset.updates = String(+(document.body.dataset.updates || 0) + 1);
  };
  await update();
  const check = document.getElementById("lf-check");
  const py = D.python_totals;
  const agree = Math.abs(py.a - res.totals.ca.total) <= 1e-6 * Math.max(1, py.a) &&
    Math.abs(py.b - res.totals.cb.total) <= 1e-6 * Math.max(1, py.b);
  check.textContent = agree ? "The page's totals at the file's assumptions equal ladderforge's (Python) totals."
    : `The page's totals differ from ladderforge's: A ${py.a} vs ${res.totals.ca.total}, B ${py.b} vs ${res.totals.cb.total}.`;
  check.dataset.agree = agree ? "1" : "0";
  document.querySelectorAll("#lf-assumptions input").forEach((el) => el.addEventListener("input", update));
  select.addEventListener("change", () => { sel = +select.value; update(); });
  document.getElementById("lf-csv-titles").addEventListener("click", () => lfDownload("titles.csv", lfTitlesCsv(res)));
  document.getElementById("lf-csv-rungs").addEventListener("click", () => lfDownload("rungs.csv", lfRungsCsv(D, a)));
  document.body.dataset.renderMs = String(Math.round(performance.now()));
  document.body.dataset.marks = JSON.stringify(marks);
  document.body.dataset.ready = "1";
})().catch((e) => { console.error("ladderforge report: " + e); document.body.dataset.ready = "error"; });
