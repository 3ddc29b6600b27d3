// The drawing page of `mnistnn serve`: draw on #pad with pointer events; while drawing, the
// canvas is posted as PNG to /v1/predict (debounced, one request at a time) and the answer is
// shown: the prediction, the ten probabilities as bars, and the 28×28 input the network saw.
// <body data-version> counts drawing changes and <body data-shown> says which one the display
// reflects, so tests can wait for the answer to the final drawing.
'use strict';

const DEBOUNCE_MS = 150;
const LINE_WIDTH = 18;

const pad = document.getElementById('pad');
const ctx = pad.getContext('2d');
const seen = document.getElementById('seen');
const seenCtx = seen.getContext('2d');
const predictionOut = document.getElementById('prediction');
const statusLine = document.getElementById('status');
const barList = document.getElementById('bars');

let version = 0;      // bumped on every change to the drawing
let drawn = false;    // anything on the pad since the last clear
let inFlight = false; // a request is on its way
let timer = null;
let last = null;      // the previous point of the current stroke

const bars = [];
for (let d = 0; d < 10; d++) {
  const li = document.createElement('li');
  li.innerHTML = `<span class="digit">${d}</span><span class="track"><span class="fill"></span></span>` +
                 '<span class="value">–</span>';
  barList.appendChild(li);
  bars.push({ li, fill: li.querySelector('.fill'), value: li.querySelector('.value') });
}

function blankPad() {
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, pad.width, pad.height);
  ctx.strokeStyle = '#000';
  ctx.fillStyle = '#000';
  ctx.lineWidth = LINE_WIDTH;
  ctx.lineCap = 'round';
  ctx.lineJoin = 'round';
}

function point(event) {
  const r = pad.getBoundingClientRect();
  return { x: (event.clientX - r.left) * pad.width / r.width, y: (event.clientY - r.top) * pad.height / r.height };
}

function dot(p) {
  ctx.beginPath();
  ctx.arc(p.x, p.y, LINE_WIDTH / 2, 0, 2 * Math.PI);
  ctx.fill();
}

function lineTo(p) {
  ctx.beginPath();
  ctx.moveTo(last.x, last.y);
  ctx.lineTo(p.x, p.y);
  ctx.stroke();
  last = p;
}

function changed() {
  drawn = true;
  version++;
  document.body.dataset.version = String(version);
  clearTimeout(timer);
  timer = setTimeout(predict, DEBOUNCE_MS);
}

pad.addEventListener('pointerdown', (event) => {
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  last = point(event);
  dot(last);
  changed();
});

pad.addEventListener('pointermove', (event) => {
  if (!last) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  for (const e of (events.length ? events : [event])) lineTo(point(e));
  changed();
});

function endStroke() {
  if (!last) return;
  last = null;
  clearTimeout(timer);
  predict();
}
pad.addEventListener('pointerup', endStroke);
pad.addEventListener('pointercancel', endStroke);

document.getElementById('clear').addEventListener('click', () => {
  clearTimeout(timer);
  blankPad();
  drawn = false;
  version++;
  document.body.dataset.version = String(version);
  showNothing('Draw a digit to start.');
  if (!inFlight) document.body.dataset.shown = String(version);
});

function showNothing(message) {
  predictionOut.textContent = '–';
  statusLine.textContent = message;
  seenCtx.clearRect(0, 0, seen.width, seen.height);
  for (const b of bars) {
    b.li.classList.remove('top');
    b.fill.style.width = '0';
    b.value.textContent = '–';
  }
}

function showAnswer(answer) {
  const p = answer.probabilities;
  predictionOut.textContent = String(answer.prediction);
  statusLine.textContent = '';
  for (let d = 0; d < 10; d++) {
    bars[d].li.classList.toggle('top', d === answer.prediction);
    bars[d].fill.style.width = `${(100 * p[d]).toFixed(1)}%`;
    bars[d].value.textContent = `${(100 * p[d]).toFixed(1)}%`;
  }
  const image = seenCtx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = answer.input[i];
    image.data.set([v, v, v, 255], 4 * i);
  }
  seenCtx.putImageData(image, 0, 0);
}

function toPng() {
  return new Promise((resolve) => pad.toBlob(resolve, 'image/png'));
}

// Posts the current drawing, one request at a time; if the drawing changed while it was on its
// way, posts again when the answer comes.
async function predict() {
  if (inFlight || !drawn) return;
  inFlight = true;
  const asked = version;
  try {
    const blob = await toPng();
    const response = await fetch('/v1/predict', { method: 'POST', headers: { 'Content-Type': 'image/png' }, body: blob });
    const answer = await response.json();
    if (drawn) {
      if (response.ok) showAnswer(answer);
      else showNothing(answer.error || `error ${response.status}`);
    }
  } catch (error) {
    showNothing(`no answer from the server: ${error.message}`);
  } finally {
    inFlight = false;
    document.body.dataset.shown = String(drawn ? asked : version);
    if (drawn && asked !== version) predict();
  }
}

blankPad();
