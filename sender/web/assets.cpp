#include "sender/web/assets.hpp"

namespace fleetcast::sender::web {

std::string_view stylesheet() {
  return R"css(:root { --fg: #1d2330; --dim: #6b7385; --line: #dde1e8; --bg: #f7f8fa;
  --pending: #c9ced8; --held: #8fb4e8; --activating: #f2c14e; --applied: #3fa46a;
  --rolled-back: #e07b39; --failed: #d64545; --denied: #9b59b6; --silent: #4a4f5c; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
  color: var(--fg); background: var(--bg); }
header.top { display: flex; flex-wrap: wrap; gap: .4em 1.2em; align-items: baseline;
  padding: .6em 1em; background: #1d2330; color: #fff; }
header.top a.brand { color: #fff; font-weight: 700; text-decoration: none; font-size: 1.1em; }
header.top .who, header.top .when { color: #c5cbd6; font-size: .9em; }
main { padding: .5em 1em 2em; max-width: 1200px; margin: 0 auto; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: .4em 1em 1em; margin: 1em 0; overflow-x: auto; }
h2 { font-size: 1.25em; margin: .5em 0; } h3 { font-size: 1.05em; margin: 1em 0 .4em; }
.dim { color: var(--dim); }
.reason { white-space: pre-wrap; word-break: break-word; }
table.list { border-collapse: collapse; width: 100%; font-size: .92em; }
table.list th { text-align: left; color: var(--dim); font-weight: 600; border-bottom: 1px solid var(--line); }
table.list td, table.list th { padding: .3em .5em; vertical-align: top; }
table.list tr + tr td { border-top: 1px solid #eef0f4; }
code.line { font-size: .8em; word-break: break-all; }
ul.legend { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .3em; }
ul.legend li.none { opacity: .45; }
.waves { display: grid; gap: .6em; }
.wave { border: 1px solid var(--line); border-radius: 6px; padding: .4em .6em; }
.wave.w-active { border-color: var(--activating); box-shadow: 0 0 0 2px #f2c14e55; }
.wave-head { font-weight: 600; margin-bottom: .3em; }
.cells { display: flex; flex-wrap: wrap; gap: .3em; }
.cell { display: inline-block; padding: .25em .55em; border-radius: 4px; color: #fff;
  text-decoration: none; font-size: .85em; min-width: 4.5em; text-align: center; }
.tag { display: inline-block; padding: 0 .45em; border-radius: 3px; color: #fff; font-size: .85em; }
.s-pending, .s-no-answer, .s-registered, .s-completed { background: var(--pending); color: var(--fg); }
.s-held, .s-checked, .s-received { background: var(--held); color: var(--fg); }
.s-activating { background: var(--activating); color: var(--fg); }
.s-applied { background: var(--applied); } .s-rolled-back { background: var(--rolled-back); }
.s-failed, .s-rejected { background: var(--failed); } .s-denied { background: var(--denied); }
.s-silent { background: var(--silent); }
.badge { font-size: .7em; vertical-align: middle; padding: .15em .5em; border-radius: 10px;
  background: var(--pending); color: var(--fg); }
.r-running { background: var(--activating); } .r-done { background: var(--applied); color: #fff; }
.r-halted, .r-failed, .r-aborted { background: var(--failed); color: #fff; }
.r-paused, .r-scheduled { background: var(--held); }
pre.recap { background: #f1f3f6; padding: .6em; border-radius: 6px; overflow-x: auto; font-size: .85em; }
details { margin: .4em 0; } summary { cursor: pointer; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pool { white-space: nowrap; margin: .1em 0; } .pool meter { width: 7em; vertical-align: middle; }
.lvl-warning { background: var(--activating); color: var(--fg); }
.lvl-critical { background: var(--failed); }
@media (max-width: 600px) { main { padding: .3em .4em; } section { padding: .3em .5em .8em; }
  table.list { font-size: .82em; } .cell { min-width: 3.5em; } }
)css";
}

std::string_view script() {
  return R"js(// fleetcast: while a rollout runs (main[data-live="1"]), fetch this page again every 2 s
// and swap <main>; the last fetch after it ends shows the final state. No inline script runs.
(function () {
  'use strict';
  var period = 2000, failures = 0;
  function live() {
    var m = document.getElementById('main');
    return m !== null && m.getAttribute('data-live') === '1';
  }
  function refresh() {
    fetch(location.href, { cache: 'no-store', headers: { 'Accept': 'text/html' } })
      .then(function (r) { if (!r.ok) { throw new Error('HTTP ' + r.status); } return r.text(); })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, 'text/html');
        var next = doc.getElementById('main'), here = document.getElementById('main');
        if (next !== null && here !== null) { here.replaceWith(document.adoptNode(next)); }
        var when = doc.querySelector('header .when'), now = document.querySelector('header .when');
        if (when !== null && now !== null) { now.textContent = when.textContent; }
        failures = 0;
      })
      .catch(function () { failures += 1; })
      .then(function () { if (live() && failures < 30) { setTimeout(refresh, period); } });
  }
  if (live()) { setTimeout(refresh, period); }
}());
)js";
}

}  // namespace fleetcast::sender::web
