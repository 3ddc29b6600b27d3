'use strict';
// ctest onnx_runtime: runs mnistnn's exported ONNX models in ONNX Runtime (npm onnxruntime-node,
// pinned by package-lock.json) on all 10,000 official MNIST test digits and checks, for a ReLU and
// a sigmoid model and both input variants, that
//   - ONNX Runtime's `label` equals mnistnn's prediction (`mnistnn predict --out`) for every digit;
//   - every probability is within 1e-5 (absolute) of mnistnn's own float32 forward pass;
//   - the uint8 variant, given the raw bytes, gives bit for bit the float32 variant's outputs
//     (given byte/255), so its Cast + Div reproduces mnistnn's pixel scaling exactly;
//   - the batch size N is dynamic: batches of 1 and 333 rows agree with the 10,000-row batch;
// and runs the Node example of README.md, checking what it prints.
// Usage: node ort_check.js WORK TEST_CSV README   (WORK: made by make_models.sh)
const assert = require('assert');
const childProcess = require('child_process');
const fs = require('fs');
const path = require('path');

const modules = path.join(__dirname, 'node_modules');
if (!fs.existsSync(path.join(modules, 'onnxruntime-node'))) {
  console.error(`ort_check: ${modules}/onnxruntime-node is missing: run tests/onnx/install.sh`);
  process.exit(1);
}
const ort = require(path.join(modules, 'onnxruntime-node'));

const kPixels = 784;
const kClasses = 10;
const kTolerance = 1e-5;

// Kaggle CSV with labels → { rows, labels: Uint8Array, pixels: Uint8Array (rows × 784) }.
function readCsv(file) {
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((line) => line.length > 0);
  assert.ok(lines[0].startsWith('label,pixel0'), `${file}: expected a labelled Kaggle CSV`);
  const rows = lines.length - 1;
  const labels = new Uint8Array(rows);
  const pixels = new Uint8Array(rows * kPixels);
  for (let i = 0; i < rows; ++i) {
    const fields = lines[i + 1].split(',');
    assert.strictEqual(fields.length, kPixels + 1, `${file}: line ${i + 2}`);
    labels[i] = Number(fields[0]);
    for (let p = 0; p < kPixels; ++p) pixels[i * kPixels + p] = Number(fields[p + 1]);
  }
  return { rows, labels, pixels };
}

// `mnistnn predict --out` file (ImageId,Label) → Uint8Array of labels.
function readPredictions(file, rows) {
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  assert.strictEqual(lines[0], 'ImageId,Label');
  assert.strictEqual(lines.length - 1, rows, `${file}: row count`);
  return Uint8Array.from(lines.slice(1), (line, i) => {
    const [id, label] = line.split(',');
    assert.strictEqual(Number(id), i + 1);
    return Number(label);
  });
}

function readReference(file, rows) {
  const bytes = fs.readFileSync(file);
  assert.strictEqual(bytes.length, rows * kClasses * 4, `${file}: size`);
  // Copy into an aligned buffer (little-endian float32, as written on this x86-64 machine).
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

// The float32 variant's input: byte/255 rounded to float32, which is what mnistnn computes
// (the double quotient rounds to the same float as a float32 division).
function scaled(pixels) {
  return Float32Array.from(pixels, (v) => v / 255);
}

async function runBatches(session, type, input, rows, batch) {
  const probabilities = new Float32Array(rows * kClasses);
  const labels = new BigInt64Array(rows);
  for (let first = 0; first < rows; first += batch) {
    const n = Math.min(batch, rows - first);
    const slice = input.subarray(first * kPixels, (first + n) * kPixels);
    const out = await session.run({ pixels: new ort.Tensor(type, slice, [n, kPixels]) });
    assert.deepStrictEqual(out.probabilities.dims, [n, kClasses]);
    assert.deepStrictEqual(out.label.dims, [n]);
    assert.strictEqual(out.probabilities.type, 'float32');
    assert.strictEqual(out.label.type, 'int64');
    probabilities.set(out.probabilities.data, first * kClasses);
    labels.set(out.label.data, first);
  }
  return { probabilities, labels };
}

// Checks ONNX Runtime's outputs for `rows` digits against mnistnn's; returns the largest difference.
function compare(name, out, predictions, reference, rows) {
  let mismatches = 0;
  for (let i = 0; i < rows; ++i) {
    if (out.labels[i] !== BigInt(predictions[i])) {
      if (++mismatches <= 5) console.error(`${name}: digit ${i}: ONNX Runtime says ${out.labels[i]}, mnistnn ${predictions[i]}`);
    }
  }
  assert.strictEqual(mismatches, 0, `${name}: ${mismatches} of ${rows} labels differ from mnistnn's predictions`);
  let maxDiff = 0;
  let worst = -1;
  for (let k = 0; k < rows * kClasses; ++k) {
    const diff = Math.abs(out.probabilities[k] - reference[k]);
    if (!(diff <= maxDiff)) {
      maxDiff = diff;
      worst = k;
    }
  }
  assert.ok(maxDiff <= kTolerance,
    `${name}: probability of digit ${Math.floor(worst / kClasses)} class ${worst % kClasses} differs by ${maxDiff}`);
  return maxDiff;
}

function sameBits(a, b) {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

async function checkModel(work, name, test) {
  const predictions = readPredictions(path.join(work, `${name}-predictions.csv`), test.rows);
  const reference = readReference(path.join(work, `${name}-probabilities.f32`), test.rows);
  const floatSession = await ort.InferenceSession.create(path.join(work, `${name}-float32.onnx`));
  const byteSession = await ort.InferenceSession.create(path.join(work, `${name}-uint8.onnx`));
  for (const session of [floatSession, byteSession]) {
    assert.deepStrictEqual(session.inputNames, ['pixels']);
    assert.deepStrictEqual(session.outputNames, ['probabilities', 'label']);
  }
  const x = scaled(test.pixels);

  const all = await runBatches(floatSession, 'float32', x, test.rows, test.rows);
  const maxDiff = compare(`${name} float32`, all, predictions, reference, test.rows);

  const bytes = await runBatches(byteSession, 'uint8', test.pixels, test.rows, test.rows);
  assert.ok(sameBits(bytes.probabilities, all.probabilities), `${name}: uint8 variant's probabilities differ from float32's`);
  assert.ok(sameBits(bytes.labels, all.labels), `${name}: uint8 variant's labels differ from float32's`);
  compare(`${name} uint8`, bytes, predictions, reference, test.rows);

  // Dynamic batch size: other batch sizes, same answers (to the same tolerance).
  const by333 = await runBatches(floatSession, 'float32', x, test.rows, 333);
  compare(`${name} float32 batches of 333`, by333, predictions, reference, test.rows);
  const ones = 200;
  const byOne = await runBatches(byteSession, 'uint8', test.pixels, ones, 1);
  compare(`${name} uint8 batches of 1`, byOne, predictions, reference, ones);

  let correct = 0;
  for (let i = 0; i < test.rows; ++i) correct += all.labels[i] === BigInt(test.labels[i]) ? 1 : 0;
  const accuracy = correct / test.rows;
  assert.ok(accuracy > 0.85, `${name}: test accuracy ${accuracy} is too low for a trained model`);
  console.log(`${name}: ${test.rows} digits, labels equal mnistnn's predictions, max |Δp| = ${maxDiff.toExponential(2)}, ` +
              `uint8 variant bit-identical, test accuracy ${(100 * accuracy).toFixed(2)} %`);
  return { predictions, reference };
}

// The ```js block after <!-- onnx-node-example --> in README.md.
function readmeExample(readme) {
  const text = fs.readFileSync(readme, 'utf8');
  const match = /<!-- onnx-node-example -->\s*```js\n([\s\S]*?)```/.exec(text);
  assert.ok(match, `${readme}: no \`\`\`js block after <!-- onnx-node-example -->`);
  return match[1];
}

// Runs the README's example where it expects to be: a folder with model.onnx and data/test.csv.
function checkReadmeExample(work, testCsv, readme, relu) {
  const folder = path.join(work, 'readme');
  fs.rmSync(folder, { recursive: true, force: true });
  fs.mkdirSync(path.join(folder, 'data'), { recursive: true });
  fs.copyFileSync(path.join(work, 'relu-float32.onnx'), path.join(folder, 'model.onnx'));
  fs.symlinkSync(path.resolve(testCsv), path.join(folder, 'data', 'test.csv'));
  fs.writeFileSync(path.join(folder, 'example.js'), readmeExample(readme));
  const out = childProcess.execFileSync(process.execPath, ['example.js'], {
    cwd: folder, env: { ...process.env, NODE_PATH: modules }, encoding: 'utf8',
  });
  const match = /^digit (\d) \(true label (\d)\), p = (0\.\d{4})\n$/.exec(out);
  assert.ok(match, `README example printed: ${out}`);
  const predicted = relu.predictions[0];
  assert.strictEqual(Number(match[1]), predicted, 'README example: the prediction for test digit 0');
  assert.strictEqual(match[3], relu.reference[predicted].toFixed(4), 'README example: its probability');
  console.log(`README example: ${out.trim()}`);
}

async function main() {
  const [work, testCsv, readme] = process.argv.slice(2);
  assert.ok(work && testCsv && readme, 'usage: node ort_check.js WORK TEST_CSV README');
  console.log(`onnxruntime-node ${ort.env.versions.node}`);
  const test = readCsv(testCsv);
  assert.strictEqual(test.rows, 10000, 'the official MNIST test set has 10,000 digits');
  const relu = await checkModel(work, 'relu', test);
  await checkModel(work, 'sigmoid', test);
  checkReadmeExample(work, testCsv, readme, relu);
}

main().catch((error) => {
  console.error(`ort_check: FAILED: ${error.message}`);
  process.exit(1);
});
