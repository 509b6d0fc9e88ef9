// Runs a Distill `webgl_models8` JSON (as written by `nca-zoo export --format distill-webgl`) on the CPU
// under Node, decoding it the way the format defines: per layer (in_ch + 1) x out_ch bytes, row-major,
// the bias last, value = (u8 / 255 - 0.5) * scale; first-layer rows [identity, Sobel-x, Sobel-y] x C.
// An independent reader of the file (not the demo's WebGL shaders): it checks the row order, the
// scales and the byte layout against JAX.
//
// usage: node run_distill_webgl.js MODEL.json IO_DIR   (IO_DIR as for run_nca.js; writes step.bin)
"use strict";
const fs = require("fs");
const path = require("path");

function decodeLayer(layer) {
  if (layer.type !== "uint8") throw new Error(`expected a uint8 layer, got ${layer.type}`);
  const { in_ch: inCh, out_ch: outCh } = layer;
  const bytes = Buffer.from(layer.data_b64, "base64");
  if (bytes.length !== (inCh + 1) * outCh) throw new Error(`layer has ${bytes.length} bytes`);
  const weight = new Float32Array(inCh * outCh);
  const bias = new Float32Array(outCh);
  for (let i = 0; i < inCh * outCh; i++) weight[i] = (bytes[i] / 255 - 0.5) * layer.weight_scale;
  for (let j = 0; j < outCh; j++) bias[j] = (bytes[inCh * outCh + j] / 255 - 0.5) * layer.bias_scale;
  return { inCh, outCh, weight, bias };
}

function aliveMask(state, B, H, W, C, threshold) {
  const alive = new Uint8Array(B * H * W);
  for (let b = 0; b < B; b++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        let m = -Infinity;
        for (let dy = -1; dy <= 1; dy++)
          for (let dx = -1; dx <= 1; dx++) {
            const yy = y + dy, xx = x + dx;
            if (yy >= 0 && yy < H && xx >= 0 && xx < W) m = Math.max(m, state[((b * H + yy) * W + xx) * C + 3]);
          }
        alive[(b * H + y) * W + x] = m > threshold ? 1 : 0;
      }
  return alive;
}

function step(layers, state, mask, B, H, W, angle) {
  const [l0, l1] = layers;
  const C = l1.outCh, hidden = l0.outCh;
  const c = Math.cos(angle), s = Math.sin(angle);
  const at = (b, y, x, k) => (y < 0 || y >= H || x < 0 || x >= W ? 0 : state[((b * H + y) * W + x) * C + k]);
  const pre = aliveMask(state, B, H, W, C, 0.1);
  const next = new Float32Array(state.length);
  const features = new Float64Array(3 * C);
  const h = new Float64Array(hidden);
  for (let b = 0; b < B; b++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const cell = (b * H + y) * W + x;
        for (let k = 0; k < C; k++) {
          let gx = 0, gy = 0;
          for (let d = -1; d <= 1; d++) {
            const wgt = d === 0 ? 2 : 1;
            gx += wgt * (at(b, y + d, x + 1, k) - at(b, y + d, x - 1, k));
            gy += wgt * (at(b, y + 1, x + d, k) - at(b, y - 1, x + d, k));
          }
          gx /= 8;
          gy /= 8;
          features[k] = state[cell * C + k];
          features[C + k] = c * gx - s * gy;
          features[2 * C + k] = s * gx + c * gy;
        }
        for (let j = 0; j < hidden; j++) h[j] = l0.bias[j];
        for (let i = 0; i < 3 * C; i++) {
          const f = features[i];
          if (f !== 0) for (let j = 0; j < hidden; j++) h[j] += f * l0.weight[i * hidden + j];
        }
        for (let k = 0; k < C; k++) {
          let u = l1.bias[k];
          for (let j = 0; j < hidden; j++) if (h[j] > 0) u += h[j] * l1.weight[j * C + k];
          next[cell * C + k] = state[cell * C + k] + (mask[cell] > 0.5 ? u : 0);
        }
      }
  const post = aliveMask(next, B, H, W, C, 0.1);
  for (let cell = 0; cell < B * H * W; cell++)
    if (!(pre[cell] && post[cell])) next.fill(0, cell * C, (cell + 1) * C);
  return next;
}

function readFloats(file) {
  const buf = fs.readFileSync(file);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

const [modelFile, io] = process.argv.slice(2).map((p) => path.resolve(p));
const layers = JSON.parse(fs.readFileSync(modelFile, "utf8")).map(decodeLayer);
const { batch, height, width, steps, angle } = JSON.parse(fs.readFileSync(path.join(io, "spec.json"), "utf8"));
const masks = readFloats(path.join(io, "masks.bin"));
const cells = batch * height * width;
let state = readFloats(path.join(io, "state.bin"));
for (let t = 0; t < steps; t++) state = step(layers, state, masks.subarray(t * cells, (t + 1) * cells), batch, height, width, angle);
fs.writeFileSync(path.join(io, "step.bin"), Buffer.from(state.buffer, state.byteOffset, state.byteLength));
console.log(`distill webgl_models8 (JS reader): ${steps} steps on ${batch}x${height}x${width}`);
