// Draws docs/benchmarks.svg from bench/results/latest.json: hand-written SVG, no dependencies.
//
//   node bench/chart.mjs [results.json] [out.svg]
//
// Horizontal bars of ops/s (medians) on a log scale, one group per workload, the ratio to jose
// printed beside each bar. jwks-verify is orange, jose blue, static-key and reference rows grey.

import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { label, fmtOps } from './report.mjs'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const input = process.argv[2] || path.join(HERE, 'results', 'latest.json')
const output = process.argv[3] || path.join(HERE, '..', 'docs', 'benchmarks.svg')

const report = JSON.parse(fs.readFileSync(input, 'utf8'))

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
const plain = (id) => label(id).replace(/\*\*/g, '')
const colorOf = (id) => {
  if (id.startsWith('jwks-verify')) return id.includes('nocache') ? '#f5a65b' : '#e8730c'
  if (id === 'jose') return '#2f6db5'
  if (id === 'node-rs' || id.startsWith('crypto')) return '#9aa3ad'
  return '#4aa59a'
}

const W = 980
const LABEL_W = 330
const VALUE_W = 150
const PLOT_X = LABEL_W + 10
const PLOT_W = W - PLOT_X - VALUE_W
const ROW = 15
const BAR = 11

const order = report.peers.map((p) => p.id)
const values = report.results.filter((r) => r.opsPerSec > 0).map((r) => r.opsPerSec)
if (values.length === 0) {
  console.error('chart: no results with numbers in ' + input)
  process.exit(1)
}
const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...values))))
const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...values))))
const x = (v) => PLOT_X + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * PLOT_W

const parts = []
let y = 20
const m = report.machine
parts.push(
  `<text x="${W / 2}" y="${y + 6}" text-anchor="middle" font-size="17" font-weight="bold">JWT verification against a JWKS: ops/s (median of ${report.options.rounds} round${report.options.rounds > 1 ? 's' : ''}, log scale)</text>`
)
y += 24
parts.push(
  `<text x="${W / 2}" y="${y}" text-anchor="middle" font-size="12" fill="#555">${esc(`Node ${m.node} · ${m.nproc} CPUs (${m.cpuModel}) · ${report.date.slice(0, 10)} · bars: ops/s, right: × jose`)}</text>`
)
y += 14
if (!report.addonBuilt) {
  y += 14
  parts.push(
    `<text x="${W / 2}" y="${y}" text-anchor="middle" font-size="13" fill="#b00">jwks-verify not built when this ran: its rows are missing</text>`
  )
}
y += 10

const tick = (v) => (v >= 1e6 ? `${v / 1e6}M` : v >= 1e3 ? `${v / 1e3}k` : String(v))
const axis = (top, bottom) => {
  const g = []
  for (let v = lo; v <= hi * 1.0001; v *= 10) {
    const gx = x(v).toFixed(1)
    g.push(`<line x1="${gx}" y1="${top}" x2="${gx}" y2="${bottom}" stroke="#ddd"/>`)
    g.push(`<text x="${gx}" y="${top - 3}" text-anchor="middle" font-size="10" fill="#777">${tick(v)}</text>`)
  }
  return g.join('')
}

for (const alg of report.options.algs) {
  y += 22
  parts.push(`<text x="10" y="${y}" font-size="16" font-weight="bold">${esc(alg)}</text>`)
  y += 6
  for (const set of ['same', 'pool']) {
    for (const conc of [1, 64]) {
      const rows = order
        .map((id) => report.results.find((r) => r.peer === id && r.alg === alg && r.set === set && r.conc === conc))
        .filter((r) => r && r.opsPerSec > 0)
      if (rows.length === 0) continue
      y += 22
      const title = `${set === 'same' ? 'same token repeated' : `distinct tokens (pool of ${report.options.poolSize.toLocaleString('en-US')})`} · ${conc} in flight`
      parts.push(`<text x="10" y="${y}" font-size="13" font-weight="bold" fill="#333">${esc(title)}</text>`)
      y += 14
      const top = y
      const bars = []
      for (const r of rows) {
        const by = y + (ROW - BAR) / 2
        const w = Math.max(1, x(r.opsPerSec) - PLOT_X)
        const bold = r.peer.startsWith('jwks-verify') ? ' font-weight="bold"' : ''
        bars.push(`<text x="${LABEL_W}" y="${y + 11}" text-anchor="end" font-size="11"${bold}>${esc(plain(r.peer))}</text>`)
        bars.push(
          `<rect x="${PLOT_X}" y="${by.toFixed(1)}" width="${w.toFixed(1)}" height="${BAR}" fill="${colorOf(r.peer)}"><title>${esc(`${plain(r.peer)}: ${Math.round(r.opsPerSec)} ops/s`)}</title></rect>`
        )
        const ratio = r.ratioToJose != null ? ` (${r.ratioToJose.toFixed(2)}×)` : ''
        bars.push(
          `<text x="${(PLOT_X + w + 4).toFixed(1)}" y="${y + 11}" font-size="10.5"${bold}>${esc(fmtOps(r.opsPerSec) + ratio)}</text>`
        )
        y += ROW
      }
      parts.push(axis(top, y), ...bars)
    }
  }
}
y += 20
parts.push(
  `<text x="10" y="${y}" font-size="10.5" fill="#555">${esc('Every library verified the same tokens (signature, exp, iss, aud) from the same JWKS server on 127.0.0.1. Static-key and node:crypto rows are references without JWKS handling.')}</text>`
)
y += 10

const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="Helvetica, Arial, sans-serif">
<rect width="100%" height="100%" fill="#fff"/>
${parts.join('\n')}
</svg>
`
fs.mkdirSync(path.dirname(output), { recursive: true })
fs.writeFileSync(output, svg)
console.error(`chart: ${path.relative(process.cwd(), output)} (${report.results.length} cells)`)
