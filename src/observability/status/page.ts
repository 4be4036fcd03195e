/**
 * The status page: one HTML document with its style and script inline (`assets/`, copied next to
 * the built module by `npm run build`), so it needs nothing but the admin port — no CDN, no other
 * request than `status.json`. Its Content-Security-Policy allows exactly those two inline blocks,
 * by hash, and connections to its own origin.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

function asset(name: string): string {
  return readFileSync(new URL(`./assets/${name}`, import.meta.url), 'utf8');
}

function hash(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/** A green dot, inline: a browser asking for /favicon.ico would get a 404. */
const FAVICON =
  "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='6' fill='%2338c98a'/%3E%3C/svg%3E";

function page(style: string, script: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>odoo-bus-sidecar status</title>
<link rel="icon" href="${FAVICON}">
<style>${style}</style>
</head>
<body>
<main>
<header>
  <h1>odoo-bus-sidecar</h1>
  <div class="facts">
    <span>version <b id="version">…</b></span>
    <span>Node.js <b id="node">…</b></span>
    <span>up <b id="uptime">…</b></span>
    <span><b id="process">…</b></span>
  </div>
  <div class="spacer"></div>
  <span id="listen" class="badge muted">LISTEN …</span>
  <span id="ready" class="badge muted">…</span>
  <span id="live" class="badge muted">loading</span>
</header>
<section id="kpis" class="kpis"></section>
<section id="plots" class="plots"></section>
<section class="tables">
  <div class="card"><h2><span>Databases</span></h2><div id="databases"></div></div>
  <div class="card"><h2><span>Calls to Odoo by route</span></h2><div id="routes"></div></div>
  <div class="card"><h2><span>Close codes</span></h2><div id="closes"></div></div>
  <div class="card"><h2><span>Busiest channels</span><span class="unit">subscribers only</span></h2><div id="channels"></div></div>
</section>
<details>
  <summary>Settings (secrets are never shown)</summary>
  <div id="config" class="config"></div>
</details>
</main>
<script>${script}</script>
</body>
</html>
`;
}

function build() {
  const style = asset('status.css');
  const script = asset('status.js');
  return {
    html: page(style, script),
    contentSecurityPolicy: [
      "default-src 'none'",
      `script-src ${hash(script)}`,
      `style-src ${hash(style)}`,
      "connect-src 'self'",
      "img-src 'self' data:",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
  };
}

export const STATUS_PAGE = build();
