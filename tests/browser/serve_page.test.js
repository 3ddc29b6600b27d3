// The drawing page of `mnistnn serve` in a real browser (Debian's chromium, headless, driven by
// playwright-core): trains a small model, starts the server, draws 20 real MNIST test digits
// (data/test.csv) with mouse strokes traced from their pixels, and checks that the prediction
// the page shows agrees with `mnistnn predict` on the same rows for at least 18 of them. Keeps a
// screenshot in ARTIFACTS_DIR/serve-page.png.
//   node serve_page.test.js path/to/mnistnn ARTIFACTS_DIR
'use strict';

const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const DIGITS = 20;
const NEEDED = 18;
const INK = 96;     // pixels at least this bright are traced
const SCALE = 10;   // the page's 280-pixel canvas is 10 MNIST pixels per pixel

const [binary, artifacts] = process.argv.slice(2);
const root = path.resolve(__dirname, '..', '..');
const testCsv = path.join(root, 'data', 'test.csv');
const trainCsv = path.join(root, 'data', 'train.csv');

function fail(message) {
  console.error(`browser test: FAIL: ${message}`);
  process.exit(1);
}

function run(args) {
  const r = spawnSync(binary, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) fail(`mnistnn ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

// The header and first n rows of a labelled Kaggle CSV, as text and as { label, pixels[784] }.
function readRows(file, n) {
  const fd = fs.openSync(file, 'r');
  const buffer = Buffer.alloc(1 << 20);
  const bytes = fs.readSync(fd, buffer, 0, buffer.length, 0);
  fs.closeSync(fd);
  const lines = buffer.subarray(0, bytes).toString('utf8').split('\n').slice(0, n + 1);
  const rows = lines.slice(1).map((line) => {
    const v = line.trim().split(',').map(Number);
    if (v.length !== 785) fail(`${file}: expected 785 columns, got ${v.length}`);
    return { label: v[0], pixels: v.slice(1) };
  });
  return { text: lines.join('\n') + '\n', rows };
}

// `mnistnn predict` on the same digits (one run over a file of them): the predicted classes.
function predictRows(model, csvText, dir) {
  const csv = path.join(dir, 'digits.csv');
  const out = path.join(dir, 'submission.csv');
  fs.writeFileSync(csv, csvText);
  run(['predict', '--model', model, '--data', csv, '--out', out]);
  return fs.readFileSync(out, 'utf8').trim().split('\n').slice(1).map((line) => Number(line.split(',')[1]));
}

// Starts `mnistnn serve` on a free loopback port; resolves with { child, url }.
function startServer(model) {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['serve', '--model', model, '--host', '127.0.0.1', '--port', '0', '-q'],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+\/)/);
      if (m) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code} before listening: ${out}`)));
    setTimeout(() => reject(new Error('serve did not start within 60 s')), 60000);
  });
}

// Draws the digit with the mouse: each row's runs of ink become one horizontal stroke.
async function drawDigit(page, box, pixels) {
  for (let y = 0; y < 28; y++) {
    let x = 0;
    while (x < 28) {
      if (pixels[y * 28 + x] < INK) { x++; continue; }
      const start = x;
      while (x < 28 && pixels[y * 28 + x] >= INK) x++;
      const py = box.y + (y + 0.5) * SCALE;
      await page.mouse.move(box.x + (start + 0.5) * SCALE, py);
      await page.mouse.down();
      await page.mouse.move(box.x + (x - 0.5) * SCALE, py, { steps: 1 });
      await page.mouse.up();
    }
  }
}

async function main() {
  if (!binary || !artifacts) fail('usage: node serve_page.test.js MNISTNN_BINARY ARTIFACTS_DIR');
  for (const f of [trainCsv, testCsv]) if (!fs.existsSync(f)) fail(`${f} is missing: run scripts/fetch-mnist.sh`);
  fs.mkdirSync(artifacts, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mnistnn-browser-'));
  const model = path.join(tmp, 'model.safetensors');
  let server = null;
  let context = null;
  const started = Date.now();
  const seconds = () => ((Date.now() - started) / 1000).toFixed(1);
  try {
    run(['train', '--data', trainCsv, '--model', model, '--hidden', '128', '--init', 'he', '--batch-size', '128',
      '--optimizer', 'adam', '--alpha', '0.002', '--epochs', '2', '--log-every', '1000', '-q']);
    const { text, rows: digits } = readRows(testCsv, DIGITS);
    const expected = predictRows(model, text, tmp);
    if (expected.length !== DIGITS) fail(`predict gave ${expected.length} answers for ${DIGITS} digits`);

    console.log(`browser test: model trained and predict run on ${DIGITS} digits (${seconds()} s)`);
    server = await startServer(model);
    context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
      executablePath: '/usr/bin/chromium',
      headless: true,
      viewport: { width: 1000, height: 560 },
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
    const page = context.pages()[0] || await context.newPage();
    const outside = [];
    page.on('request', (r) => { if (!r.url().startsWith(server.url)) outside.push(r.url()); });
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    await page.goto(server.url);
    const box = await page.locator('#pad').boundingBox();
    if (!box || Math.round(box.width) !== 280) fail(`the drawing canvas is not 280 px wide: ${JSON.stringify(box)}`);

    // Live prediction: a slow stroke gets answers while the button is still down (debounced).
    let predictRequests = 0;
    page.on('request', (r) => { if (r.url().endsWith('/v1/predict')) predictRequests++; });
    await page.mouse.move(box.x + 140, box.y + 40);
    await page.mouse.down();
    for (let k = 1; k <= 8; k++) {
      await page.mouse.move(box.x + 140, box.y + 40 + 25 * k);
      await page.waitForTimeout(300);
    }
    const duringStroke = predictRequests;
    await page.mouse.up();
    if (duringStroke < 2) fail(`only ${duringStroke} predictions were asked for during a 2.4 s stroke`);
    await page.waitForFunction(() => document.body.dataset.shown === document.body.dataset.version);
    if (await page.textContent('#prediction') === '–') fail('no prediction shown after a stroke');

    let agree = 0;
    const shown = [];
    for (let i = 0; i < DIGITS; i++) {
      await page.click('#clear');
      await drawDigit(page, box, digits[i].pixels);
      await page.waitForFunction(() => document.body.dataset.shown === document.body.dataset.version &&
        document.getElementById('prediction').textContent !== '–', null, { timeout: 20000 });
      const state = await page.evaluate(() => {
        const tops = [...document.querySelectorAll('#bars li.top')];
        const seen = document.getElementById('seen').getContext('2d').getImageData(0, 0, 28, 28).data;
        let ink = 0;
        for (let k = 0; k < seen.length; k += 4) ink += seen[k] > 0 ? 1 : 0;
        return {
          prediction: Number(document.getElementById('prediction').textContent),
          top: tops.map((li) => Number(li.querySelector('.digit').textContent)),
          bars: [...document.querySelectorAll('#bars .value')].map((v) => v.textContent),
          ink,
        };
      });
      if (state.top.length !== 1 || state.top[0] !== state.prediction) {
        fail(`digit ${i}: the highlighted bar ${JSON.stringify(state.top)} is not the prediction ${state.prediction}`);
      }
      if (state.ink < 20) fail(`digit ${i}: the 28x28 input shown beside the canvas is (nearly) empty`);
      if (state.bars.some((b) => !/^\d+\.\d%$/.test(b))) fail(`digit ${i}: bars not labelled: ${state.bars}`);
      const ok = state.prediction === expected[i];
      agree += ok ? 1 : 0;
      shown.push(`${i}:${state.prediction}${ok ? '' : `(predict ${expected[i]}, label ${digits[i].label})`}`);
    }
    const shot = path.join(artifacts, 'serve-page.png');
    await page.screenshot({ path: shot });
    console.log(`browser test: drawn in ${seconds()} s`);
    console.log(`browser test: page agrees with predict on ${agree}/${DIGITS} digits: ${shown.join(' ')}`);
    console.log(`browser test: screenshot ${shot}`);
    if (outside.length) fail(`the page made requests outside the server: ${outside.join(', ')}`);
    if (pageErrors.length) fail(`errors in the page: ${pageErrors.join('; ')}`);
    if (agree < NEEDED) fail(`only ${agree} of ${DIGITS} agree (need ${NEEDED})`);
    console.log('browser test: PASS');
  } finally {
    if (context) await context.close();
    if (server) server.child.kill('SIGTERM');
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => fail(e.stack || String(e)));
