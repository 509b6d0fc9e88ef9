// Runs an nca-zoo `onnx-web` export under Node with the export's own nca.js and onnxruntime-web.
//
// usage: node run_nca.js EXPORT_DIR IO_DIR
// IO_DIR/spec.json: {"batch", "height", "width", "steps", "angle"}; IO_DIR/state.bin (B,H,W,C) and
// IO_DIR/masks.bin (T,B,H,W,1) hold little-endian float32. Writes IO_DIR/step.bin (T calls of the
// step model) and IO_DIR/rollout.bin (one call of the rollout model with all T masks).
"use strict";
const fs = require("fs");
const path = require("path");
const ort = require("onnxruntime-web");

function readFloats(file) {
  const buf = fs.readFileSync(file);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

function writeFloats(file, data) {
  fs.writeFileSync(file, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
}

async function main() {
  const [exportDir, io] = process.argv.slice(2).map((p) => path.resolve(p));
  ort.env.wasm.numThreads = 1;
  const NCA = require(path.join(exportDir, "nca.js"));
  const meta = JSON.parse(fs.readFileSync(path.join(exportDir, "nca.json"), "utf8"));
  const spec = JSON.parse(fs.readFileSync(path.join(io, "spec.json"), "utf8"));
  const { batch, height, width, steps, angle } = spec;
  const nca = await NCA.load(
    ort,
    fs.readFileSync(path.join(exportDir, meta.step)),
    fs.readFileSync(path.join(exportDir, meta.rollout)),
    meta.channels,
  );
  const start = readFloats(path.join(io, "state.bin"));
  const masks = readFloats(path.join(io, "masks.bin"));
  const cells = batch * height * width;
  let state = start;
  for (let t = 0; t < steps; t++) {
    state = await nca.step(state, masks.subarray(t * cells, (t + 1) * cells), batch, height, width, angle);
  }
  writeFloats(path.join(io, "step.bin"), state);
  writeFloats(path.join(io, "rollout.bin"), await nca.rollout(start, masks, steps, batch, height, width, angle));
  console.log(`onnxruntime-web ${ort.env.versions ? JSON.stringify(ort.env.versions) : ""}: ${steps} steps on ${batch}x${height}x${width}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
