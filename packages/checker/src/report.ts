import { writeFile } from "node:fs/promises";
import type { GuaranteeResult } from "./guarantee-result.js";
import { describeOp } from "./kv-model.js";
import type { LinearizabilityResult } from "./linearizable.js";
import type { Op } from "./op.js";

/** Keys drawn in a report beyond the failing one, and ops drawn per key: a page stays openable. */
const MAX_KEYS = 12;
const MAX_OPS_PER_KEY = 3000;

interface ReportOp {
  /** op index in the history */
  i: number;
  p: string;
  label: string;
  lines: string;
  call: number;
  ret: number;
  type: string;
  /** position in the (partial) linearization, 1-based */
  lin?: number;
  state?: string;
  bad?: boolean;
}

/**
 * renderReport draws a self-contained HTML page (inline CSS and JS, no external URLs) for a linearizability
 * result: the verdict and explanation, then per key a timeline of the history with one row per process and one bar
 * per op from invoke to completion (indeterminate ops run to the right edge). On the failing key the ops of the
 * longest linearizable prefix are numbered in linearization order and the ops that could not be linearized are
 * marked red; on passing keys the linearization found is numbered. Hovering an op shows it and the model state
 * after it. `notes` adds other checks' verdicts and examples above the timelines.
 */
export function renderReport(
  ops: readonly Op[],
  result: LinearizabilityResult,
  title = "consistency-lab check",
  notes: readonly GuaranteeResult[] = [],
): string {
  const byKey = new Map<string, Op[]>();
  for (const op of ops) {
    let l = byKey.get(op.key);
    if (!l) {
      l = [];
      byKey.set(op.key, l);
    }
    l.push(op);
  }
  const order = [...byKey.keys()].sort((a, b) =>
    a === result.failingKey ? -1 : b === result.failingKey ? 1 : 0,
  );
  const keys = order.slice(0, MAX_KEYS + (result.failingKey !== undefined ? 1 : 0)).map((key) => {
    const kops = byKey.get(key)!.slice(0, MAX_OPS_PER_KEY);
    const lin = new Map<number, { n: number; state: string }>();
    let bad = new Set<number>();
    if (key === result.failingKey) {
      for (const [n, op] of (result.longestPrefix ?? []).entries()) {
        lin.set(op.index, { n: n + 1, state: result.prefixStates?.[n] ?? "" });
      }
      bad = new Set((result.unlinearizable ?? []).map((o) => o.index));
    } else {
      const l = result.linearizations?.[key];
      for (const [n, i] of (l?.ops ?? []).entries()) lin.set(i, { n: n + 1, state: l?.states[n] ?? "" });
    }
    // Compress the timeline to this key's own events so bars stay readable.
    const times = [...new Set(kops.flatMap((o) => [o.call, o.ret]).filter(Number.isFinite))].sort(
      (a, b) => a - b,
    );
    const rank = new Map(times.map((t, i) => [t, i]));
    const end = times.length;
    const rows: ReportOp[] = kops.map((o) => {
      const l = lin.get(o.index);
      return {
        i: o.index,
        p: String(o.process),
        label: describeOp(o),
        lines:
          o.completeLine !== undefined
            ? `lines ${o.invokeLine}–${o.completeLine}`
            : `line ${o.invokeLine} (never completed)`,
        call: rank.get(o.call) ?? 0,
        ret: Number.isFinite(o.ret) ? rank.get(o.ret)! : end,
        type: o.error ? "refused" : o.type,
        ...(l ? { lin: l.n, state: l.state } : {}),
        ...(bad.has(o.index) ? { bad: true } : {}),
      };
    });
    const verdict = result.perKey?.find((k) => k.key === key)?.verdict ?? "ok";
    return { key, verdict, end, truncated: byKey.get(key)!.length > kops.length, ops: rows };
  });
  const data = {
    title,
    verdict: result.verdict,
    model: result.model,
    ops: result.ops,
    keys: result.keys,
    seconds: result.seconds,
    explanation: result.explanation ?? "",
    omittedKeys: Math.max(0, byKey.size - keys.length),
    notes: notes.map((g) => ({
      guarantee: g.guarantee,
      verdict: g.verdict,
      count: g.count,
      examples: g.examples,
      reason: g.reason ?? "",
    })),
    perKey: keys,
  };
  const json = JSON.stringify(data).replace(/</g, "\\u003c");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:20px;color:#222}
h1{font-size:20px;margin:0 0 8px}
.verdict{display:inline-block;padding:2px 8px;border-radius:4px;color:#fff;font-weight:600}
.ok{background:#2e7d32}.violation{background:#c62828}.unknown{background:#ef6c00}
pre{background:#f6f6f6;padding:10px;white-space:pre-wrap;border-left:4px solid #c62828}
section{margin:18px 0}
h2{font-size:16px;margin:4px 0}
svg{display:block;border:1px solid #ddd;background:#fcfcfc}
.bar{stroke:#333;stroke-width:.5}
.bar.ok{fill:#90caf9}.bar.fail{fill:#f8bbd0}.bar.info{fill:#ffcc80}.bar.refused{fill:#e0e0e0}
.bar.bad{stroke:#c62828;stroke-width:3}
.bar.lin{stroke:#1b5e20;stroke-width:1.2}
text{font:11px monospace;pointer-events:none}
#tip{position:fixed;pointer-events:none;background:#fff;border:1px solid #999;padding:6px 8px;font:12px monospace;display:none;max-width:560px;box-shadow:2px 2px 6px #0003}
.legend span{display:inline-block;margin-right:12px}
.sw{display:inline-block;width:12px;height:10px;border:1px solid #333;margin-right:4px;vertical-align:middle}
</style></head><body>
<div id="app"></div><div id="tip"></div>
<script>
const D = ${json};
const app = document.getElementById("app"), tip = document.getElementById("tip");
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
let html = "<h1>" + esc(D.title) + "</h1><p><span class='verdict " + D.verdict + "'>" + D.verdict + "</span> model " + esc(D.model) + ", " + D.ops + " ops, " + D.keys + " keys, " + D.seconds.toFixed(3) + " s</p>";
if (D.explanation) html += "<pre>" + esc(D.explanation) + "</pre>";
html += "<p class='legend'><span><i class='sw' style='background:#90caf9'></i>ok</span><span><i class='sw' style='background:#f8bbd0'></i>fail</span><span><i class='sw' style='background:#ffcc80'></i>info (may take effect until the end)</span><span><i class='sw' style='background:#e0e0e0'></i>refused (did not happen)</span><span><i class='sw' style='border:3px solid #c62828'></i>could not be linearized</span><span>numbers: linearization order (on a failing key: the longest linearizable prefix)</span></p>";
for (const g of D.notes) html += "<p><b>" + esc(g.guarantee) + "</b> <span class='verdict " + g.verdict + "'>" + g.verdict + "</span> " + (g.count ? g.count + " violation(s)" : "") + " " + esc(g.reason) + "</p>" + g.examples.map((x) => "<pre>" + esc(x) + "</pre>").join("");
if (D.omittedKeys) html += "<p>" + D.omittedKeys + " more key(s) not drawn.</p>";
app.innerHTML = html;
for (const k of D.perKey) {
  const sec = document.createElement("section");
  const procs = [...new Set(k.ops.map((o) => o.p))];
  const W = Math.max(600, Math.min(4000, (k.end + 1) * 14)), rowH = 26, left = 70;
  const H = procs.length * rowH + 10;
  const x = (t) => left + (t / Math.max(1, k.end)) * (W - left - 10);
  let svg = "<svg xmlns='http://www.w3.org/2000/svg' width='" + W + "' height='" + H + "'>";
  procs.forEach((p, r) => { svg += "<text x='4' y='" + (r * rowH + 20) + "'>p" + esc(p) + "</text>"; });
  k.ops.forEach((o, n) => {
    const r = procs.indexOf(o.p), x1 = x(o.call), x2 = Math.max(x(o.ret), x1 + 4);
    const cls = "bar " + o.type + (o.bad ? " bad" : "") + (o.lin ? " lin" : "");
    svg += "<rect data-n='" + n + "' class='" + cls + "' x='" + x1 + "' y='" + (r * rowH + 6) + "' width='" + (x2 - x1) + "' height='" + (rowH - 10) + "' rx='3'/>";
    const txt = (o.lin ? "#" + o.lin + " " : "") + o.label.replace(/^p\\S+ /, "");
    svg += "<text x='" + (x1 + 3) + "' y='" + (r * rowH + 20) + "'>" + esc(txt.length * 6.5 > x2 - x1 ? txt.slice(0, Math.max(0, Math.floor((x2 - x1) / 6.5))) : txt) + "</text>";
  });
  svg += "</svg>";
  sec.innerHTML = "<h2>key " + esc(JSON.stringify(k.key)) + " <span class='verdict " + k.verdict + "'>" + k.verdict + "</span> " + k.ops.length + " ops" + (k.truncated ? " (truncated)" : "") + "</h2>" + svg;
  sec.querySelectorAll("rect").forEach((el) => {
    const o = k.ops[Number(el.getAttribute("data-n"))];
    el.addEventListener("mousemove", (e) => {
      tip.style.display = "block"; tip.style.left = e.clientX + 12 + "px"; tip.style.top = e.clientY + 12 + "px";
      tip.innerHTML = "<b>" + esc(o.label) + "</b><br>op #" + o.i + ", " + esc(o.lines) +
        (o.lin ? "<br>linearized " + o.lin + (o.state !== undefined ? ", state after: <b>" + esc(o.state) + "</b>" : "") : "") +
        (o.bad ? "<br><span style='color:#c62828'>could not be linearized</span>" : "");
    });
    el.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  });
  app.appendChild(sec);
}
</script></body></html>
`;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

/** writeReport writes renderReport's page to `path`. */
export async function writeReport(
  path: string,
  ops: readonly Op[],
  result: LinearizabilityResult,
  title?: string,
  notes?: readonly GuaranteeResult[],
): Promise<void> {
  await writeFile(path, renderReport(ops, result, title, notes));
}
