/*
 * nca.js — nca-zoo's Growing Neural Cellular Automaton in WebGL2 (an ES module, no dependencies).
 *
 * The step is exactly the one in nca_zoo/model.py, in float32:
 *   perceive   per-channel identity, Sobel-x, Sobel-y (zero padded; rotated by `angle`)
 *   update     dense 3C→hidden + ReLU → dense hidden→C, added where the cell fires
 *   alive      3×3 max of alpha > threshold, before and after the update; other cells are zeroed
 * The 16 channels live in 4 RGBA32F textures (channel 4k+c = component c of texture k), rendered
 * to together (4 draw buffers). Pass 1 (perception + MLP) skips cells that do not fire or that
 * no live alpha can reach (5×5), whose update cannot change the result; pass 2 applies the alive
 * masks. The float32 weights are literals in the shader code (one compile per model). Passes only
 * cover a rectangle around the non-zero cells (see `NCA`). The per-cell update masks come from a
 * hash in the shader (the page) or from uploaded masks (`step(n, masks)`: replayable, for tests).
 *
 *   import { NCA, mountPage } from "./nca.js";
 *   const nca = new NCA(canvas, model, { height: 72, width: 72 });   // model: see `new NCA`
 *   nca.step(1); nca.render();                                       // one step, then draw
 *
 * Grid layout: cell (row i, column j) is texel (j + PAD, i + PAD); row 0 is drawn at the top.
 * States exchanged with JS (`readState`/`writeState`) are Float32Array in HWC order.
 */

const PAD = 2; // zero border: the 5×5 reach test reads 2 cells out

export class NCAError extends Error {}

// ---- float32 <-> base64 (how the page embeds weights, and how tests move states) --------------
export function base64ToBytes(b64) {
  const s = atob(b64);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}

export function base64ToFloats(b64) {
  const bytes = base64ToBytes(b64);
  return new Float32Array(bytes.buffer, 0, bytes.length >> 2);
}

export function bytesToBase64(bytes) {
  const u8 = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let s = "";
  for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000));
  return btoa(s);
}

// ---- shaders -----------------------------------------------------------------------------------
const VERTEX = `#version 300 es
void main() {
  vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
  gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}`;

const HEADER = `#version 300 es
precision highp float;
precision highp int;
precision highp sampler2D;
`;

function range(n) {
  return Array.from({ length: n }, (_, i) => i);
}

/** A float32 value as a GLSL literal that parses back to the same float32. */
function literal(x) {
  const text = String(x);
  return /[.e]/.test(text) ? text : `${text}.0`;
}

function vec4Literal(data, i) {
  return `vec4(${Array.from(data.subarray(4 * i, 4 * i + 4), literal).join(", ")})`;
}

function mat4Literal(data, i) {
  return `mat4(${Array.from(data.subarray(16 * i, 16 * i + 16), literal).join(", ")})`;
}

/**
 * Pass 1: perception + MLP where the cell fires and live alpha is within reach (5×5). The
 * weights are literals in the code: software WebGL (SwiftShader) turns them into constant
 * operands, about 3× faster than uniform-block loads, which it bounds-checks per lane.
 */
function updateShader(packed) {
  const { K, G } = packed;
  const lines = [];
  const fetch = (k, dy, dx) => `texelFetch(s${k}, p + ivec2(${dx}, ${dy}), 0)`;
  for (let k = 0; k < K; k++) {
    lines.push(`  {`);
    for (const dy of [-1, 0, 1]) {
      for (const dx of [-1, 0, 1]) {
        if (dy !== 0 || dx !== 0) lines.push(`    vec4 a${dy + 1}${dx + 1} = ${fetch(k, dy, dx)};`);
      }
    }
    // The same operations, in the same order, as model._sobel: (d[-1] + 2·d[0] + d[1]) · 0.125.
    lines.push(`    vec4 gx = ((a02 - a00) + 2.0 * (a12 - a10) + (a22 - a20)) * 0.125;`);
    lines.push(`    vec4 gy = ((a20 - a00) + 2.0 * (a21 - a01) + (a22 - a02)) * 0.125;`);
    lines.push(`    f${K + k} = rot.x * gx - rot.y * gy;`);
    lines.push(`    f${2 * K + k} = rot.y * gx + rot.x * gy;`);
    lines.push(`  }`);
  }
  for (let k = 0; k < K; k++) lines.push(`  vec4 u${k} = ${vec4Literal(packed.b1, k)};`);
  lines.push(`  vec4 h;`);
  for (let j = 0; j < G; j++) {
    lines.push(`  h = ${vec4Literal(packed.b0, j)};`);
    for (let i = 0; i < 3 * K; i++) lines.push(`  h += ${mat4Literal(packed.w0, j * 3 * K + i)} * f${i};`);
    lines.push(`  h = max(h, vec4(0.0));`);
    for (let k = 0; k < K; k++) lines.push(`  u${k} += ${mat4Literal(packed.w1, j * K + k)} * h;`);
  }
  return `${HEADER}
${range(K)
  .map((k) => `uniform sampler2D s${k};`)
  .join("\n")}
uniform sampler2D maskTex;
uniform int useMask;
uniform uint seed;
uniform float fireRate;
uniform vec2 rot;
uniform float threshold;
uniform float stepSize;
${range(K)
  .map((k) => `layout(location = ${k}) out vec4 o${k};`)
  .join("\n")}

uint hash(uvec3 v) {  // pcg3d (Jarzynski & Olano 2020)
  v = v * 1664525u + 1013904223u;
  v.x += v.y * v.z; v.y += v.z * v.x; v.z += v.x * v.y;
  v ^= v >> 16u;
  v.x += v.y * v.z; v.y += v.z * v.x; v.z += v.x * v.y;
  return v.x;
}

void main() {
  ivec2 p = ivec2(gl_FragCoord.xy);
${range(K)
  .map((k) => `  vec4 f${k} = texelFetch(s${k}, p, 0);\n  o${k} = f${k};`)
  .join("\n")}
  bool fire = useMask == 1
    ? texelFetch(maskTex, p - ${PAD}, 0).r > 0.5
    : float(hash(uvec3(uvec2(p), seed)) >> 8u) * (1.0 / 16777216.0) < fireRate;
  if (!fire) return;
  float reach = -3.4e38;
  for (int dy = -2; dy <= 2; dy++) {
    for (int dx = -2; dx <= 2; dx++) reach = max(reach, texelFetch(s0, p + ivec2(dx, dy), 0).a);
  }
  if (!(reach > threshold)) return;
${range(2 * K)
  .map((i) => `  vec4 f${K + i};`)
  .join("\n")}
${lines.join("\n")}
${range(K)
  .map((k) => `  o${k} = f${k} + u${k} * stepSize;`)
  .join("\n")}
}`;
}

/** Pass 2: keep a cell where alpha > threshold somewhere in its 3×3 before and after the update. */
function aliveShader(K) {
  return `${HEADER}
uniform sampler2D old0;
${range(K)
  .map((k) => `uniform sampler2D n${k};`)
  .join("\n")}
uniform float threshold;
${range(K)
  .map((k) => `layout(location = ${k}) out vec4 o${k};`)
  .join("\n")}
void main() {
  ivec2 p = ivec2(gl_FragCoord.xy);
  float before = -3.4e38, after = -3.4e38;
  for (int dy = -1; dy <= 1; dy++) {
    for (int dx = -1; dx <= 1; dx++) {
      before = max(before, texelFetch(old0, p + ivec2(dx, dy), 0).a);
      after = max(after, texelFetch(n0, p + ivec2(dx, dy), 0).a);
    }
  }
  bool alive = before > threshold && after > threshold;
${range(K)
  .map((k) => `  o${k} = alive ? texelFetch(n${k}, p, 0) : vec4(0.0);`)
  .join("\n")}
}`;
}

/** Zero a disc of cells (centre and radius in cells; cell (i, j) spans [j, j+1) × [i, i+1)). */
function eraseShader(K) {
  return `${HEADER}
${range(K)
  .map((k) => `uniform sampler2D s${k};`)
  .join("\n")}
uniform vec3 disc;
${range(K)
  .map((k) => `layout(location = ${k}) out vec4 o${k};`)
  .join("\n")}
void main() {
  ivec2 p = ivec2(gl_FragCoord.xy);
  vec2 d = gl_FragCoord.xy - float(${PAD}) - disc.xy;
  bool keep = dot(d, d) >= disc.z * disc.z;
${range(K)
  .map((k) => `  o${k} = keep ? texelFetch(s${k}, p, 0) : vec4(0.0);`)
  .join("\n")}
}`;
}

/** The Distill display: premultiplied RGB over white, 1 - a + rgb, clipped; row 0 at the top. */
const DISPLAY = `${HEADER}
uniform sampler2D s0;
uniform int rows;
out vec4 color;
void main() {
  ivec2 q = ivec2(gl_FragCoord.xy);
  vec4 v = texelFetch(s0, ivec2(q.x, rows - 1 - q.y) + ${PAD}, 0);
  float a = clamp(v.a, 0.0, 1.0);
  color = vec4(clamp(1.0 - a + v.rgb, 0.0, 1.0), 1.0);
}`;

function compile(gl, vertex, fragment) {
  const program = gl.createProgram();
  for (const [type, source] of [
    [gl.VERTEX_SHADER, vertex],
    [gl.FRAGMENT_SHADER, fragment],
  ]) {
    const shader = gl.createShader(type);
    gl.shaderSource(shader, source);
    gl.compileShader(shader);
    if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) {
      throw new NCAError(`WebGL shader failed to compile: ${gl.getShaderInfoLog(shader)}`);
    }
    gl.attachShader(program, shader);
  }
  gl.linkProgram(program);
  if (!gl.getProgramParameter(program, gl.LINK_STATUS)) {
    throw new NCAError(`WebGL program failed to link: ${gl.getProgramInfoLog(program)}`);
  }
  const uniforms = {};
  const count = gl.getProgramParameter(program, gl.ACTIVE_UNIFORMS);
  for (let i = 0; i < count; i++) {
    const name = gl.getActiveUniform(program, i).name;
    uniforms[name] = gl.getUniformLocation(program, name);
  }
  return { program, uniforms };
}

/**
 * The weights of `model` as the shader uses them: mat4 blocks (column c = input 4·i+c, row r =
 * output 4·j+r), W0 as [hidden group j][input group i], W1 as [hidden group j][channel group k].
 * `weights` holds, float32: dense_0 kernel (3C × hidden, row-major), its bias, dense_1 kernel
 * (hidden × C), its bias. Channels and hidden units are padded with zeros to multiples of 4.
 */
export function packWeights(config, weights) {
  const C = config.channels;
  const H = config.hidden;
  const K = Math.ceil(C / 4);
  const G = Math.ceil(H / 4);
  const sizes = [3 * C * H, H, H * C, C];
  const total = sizes.reduce((a, b) => a + b, 0);
  if (weights.length !== total) {
    throw new NCAError(`expected ${total} float32 weights for ${C} channels and ${H} hidden units, got ${weights.length}`);
  }
  const kernel0 = weights.subarray(0, sizes[0]);
  const kernel1 = weights.subarray(sizes[0] + H, sizes[0] + H + sizes[2]);
  const w0 = new Float32Array(G * 3 * K * 16);
  const w1 = new Float32Array(G * K * 16);
  for (let j = 0; j < G; j++) {
    for (let i = 0; i < 3 * K; i++) {
      const [kind, k] = [Math.floor(i / K), i % K];
      for (let c = 0; c < 4; c++) {
        for (let r = 0; r < 4; r++) {
          const [ch, h] = [4 * k + c, 4 * j + r];
          if (ch < C && h < H) w0[(j * 3 * K + i) * 16 + c * 4 + r] = kernel0[(kind * C + ch) * H + h];
        }
      }
    }
    for (let k = 0; k < K; k++) {
      for (let c = 0; c < 4; c++) {
        for (let r = 0; r < 4; r++) {
          const [h, ch] = [4 * j + c, 4 * k + r];
          if (h < H && ch < C) w1[(j * K + k) * 16 + c * 4 + r] = kernel1[h * C + ch];
        }
      }
    }
  }
  const b0 = new Float32Array(4 * G);
  b0.set(weights.subarray(sizes[0], sizes[0] + H));
  const b1 = new Float32Array(4 * K);
  b1.set(weights.subarray(sizes[0] + H + sizes[2]));
  return { K, G, w0, w1, b0, b1 };
}

/** A rectangle of cells [x0, x1) × [y0, y1); empty when x0 >= x1 or y0 >= y1. */
function grow(r, n, width, height) {
  if (r.x0 >= r.x1 || r.y0 >= r.y1) return { ...r };
  return {
    x0: Math.max(r.x0 - n, 0),
    y0: Math.max(r.y0 - n, 0),
    x1: Math.min(r.x1 + n, width),
    y1: Math.min(r.y1 + n, height),
  };
}

function isEmpty(r) {
  return r.x0 >= r.x1 || r.y0 >= r.y1;
}

const EMPTY = { x0: 0, y0: 0, x1: 0, y1: 0 };

export class NCA {
  /**
   * `model`: {name, config: {channels, hidden, fire_rate, alive_threshold, step_size}, weights:
   * Float32Array (see packWeights)}. Throws NCAError when WebGL2 or float render targets are missing.
   *
   * Work is confined to `region`, a rectangle that holds every non-zero cell: a step can only make
   * cells next to live ones non-zero, so it grows by one cell per step, and every few steps it is
   * measured again from the state (a small read-back). Cells outside it are zero in the state.
   */
  constructor(canvas, model, { height = 72, width = 72 } = {}) {
    const gl = canvas.getContext("webgl2", {
      alpha: false,
      antialias: false,
      depth: false,
      stencil: false,
      preserveDrawingBuffer: false,
      powerPreference: "high-performance",
    });
    if (!gl) throw new NCAError("This browser does not support WebGL2, which the NCA needs to run.");
    if (!gl.getExtension("EXT_color_buffer_float")) {
      throw new NCAError(
        "This browser's WebGL2 cannot render to float32 textures (EXT_color_buffer_float), " +
          "which the NCA needs for its exact float32 state.",
      );
    }
    this.gl = gl;
    this.canvas = canvas;
    this.angle = 0;
    this.stepCount = 0;
    this.seed = (Math.random() * 0x7fffffff) >>> 0;
    /** Steps between measurements of the region (each one reads the region's cells back). */
    this.refreshEvery = 4;
    this.vao = gl.createVertexArray();
    this.display = compile(gl, VERTEX, DISPLAY);
    this.K = 0;
    this.sets = null;
    this.setModel(model);
    this.resize(height, width);
  }

  /** Switch to another model (compiles its update shader); the state is kept where it fits. */
  setModel(model) {
    const gl = this.gl;
    const config = model.config;
    const packed = packWeights(config, model.weights);
    const maxBuffers = gl.getParameter(gl.MAX_DRAW_BUFFERS);
    if (packed.K > maxBuffers) {
      throw new NCAError(`${config.channels} channels need ${packed.K} draw buffers; this WebGL2 has ${maxBuffers}`);
    }
    const programs = {
      update: compile(gl, VERTEX, updateShader(packed)),
      alive: compile(gl, VERTEX, aliveShader(packed.K)),
      erase: compile(gl, VERTEX, eraseShader(packed.K)),
    };
    if (this.programs) for (const p of Object.values(this.programs)) gl.deleteProgram(p.program);
    this.programs = programs;
    const reshape = this.sets && packed.K !== this.K;
    this.K = packed.K;
    this.model = model;
    this.channels = config.channels;
    this.threshold = config.alive_threshold;
    this.stepSize = config.step_size;
    this.fireRate = config.fire_rate;
    if (reshape) this.resize(this.height, this.width);
  }

  _texture(width, height, internal) {
    const gl = this.gl;
    const texture = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, texture);
    gl.texStorage2D(gl.TEXTURE_2D, 1, internal, width, height);
    for (const p of [gl.TEXTURE_MIN_FILTER, gl.TEXTURE_MAG_FILTER]) gl.texParameteri(gl.TEXTURE_2D, p, gl.NEAREST);
    for (const p of [gl.TEXTURE_WRAP_S, gl.TEXTURE_WRAP_T]) gl.texParameteri(gl.TEXTURE_2D, p, gl.CLAMP_TO_EDGE);
    return texture;
  }

  /** A new empty grid of height × width cells, with the seed in the centre. */
  resize(height, width) {
    const gl = this.gl;
    const max = gl.getParameter(gl.MAX_TEXTURE_SIZE) - 2 * PAD;
    if (!(height >= 1 && width >= 1 && height <= max && width <= max)) {
      throw new NCAError(`grid ${height}×${width} is out of range (1..${max})`);
    }
    for (const set of this.sets || []) {
      set.textures.forEach((t) => gl.deleteTexture(t));
      gl.deleteFramebuffer(set.fbo);
    }
    if (this.maskTex) gl.deleteTexture(this.maskTex);
    this.height = height;
    this.width = width;
    const [tw, th] = [width + 2 * PAD, height + 2 * PAD];
    // Three sets of K textures: the state, pass 1's output, and pass 2's output (the next state).
    this.sets = range(3).map(() => {
      const textures = range(this.K).map(() => this._texture(tw, th, gl.RGBA32F));
      const fbo = gl.createFramebuffer();
      gl.bindFramebuffer(gl.FRAMEBUFFER, fbo);
      textures.forEach((t, k) => gl.framebufferTexture2D(gl.FRAMEBUFFER, gl.COLOR_ATTACHMENT0 + k, gl.TEXTURE_2D, t, 0));
      gl.drawBuffers(range(this.K).map((k) => gl.COLOR_ATTACHMENT0 + k));
      if (gl.checkFramebufferStatus(gl.FRAMEBUFFER) !== gl.FRAMEBUFFER_COMPLETE) {
        throw new NCAError("This browser's WebGL2 cannot render to float32 textures (framebuffer incomplete).");
      }
      return { textures, fbo };
    });
    this.maskTex = this._texture(width, height, gl.R32F);
    this.canvas.width = width;
    this.canvas.height = height;
    this.reset();
  }

  /** Empty the grid and plant the seed in the centre cell (as nca_zoo.model.seed). */
  reset() {
    this.clear();
    this.plant(Math.floor(this.width / 2), Math.floor(this.height / 2));
    this.stepCount = 0;
  }

  /** Zero every cell. */
  clear() {
    this._clearSets(this.sets, null);
    this.region = { ...EMPTY };
    this.sinceRefresh = 0;
  }

  _clearSets(sets, rect) {
    const gl = this.gl;
    if (rect) {
      gl.enable(gl.SCISSOR_TEST);
      gl.scissor(rect.x0 + PAD, rect.y0 + PAD, rect.x1 - rect.x0, rect.y1 - rect.y0);
    }
    for (const set of sets) {
      gl.bindFramebuffer(gl.FRAMEBUFFER, set.fbo);
      for (let k = 0; k < this.K; k++) gl.clearBufferfv(gl.COLOR, k, [0, 0, 0, 0]);
    }
    gl.disable(gl.SCISSOR_TEST);
  }

  _include(x0, y0, x1, y1) {
    const r = this.region;
    this.region = isEmpty(r)
      ? { x0, y0, x1, y1 }
      : { x0: Math.min(r.x0, x0), y0: Math.min(r.y0, y0), x1: Math.max(r.x1, x1), y1: Math.max(r.y1, y1) };
  }

  /** Plant a seed at cell (x = column, y = row): channels 3.. set to 1. */
  plant(x, y) {
    const gl = this.gl;
    if (!(x >= 0 && y >= 0 && x < this.width && y < this.height)) return;
    const state = this.sets[0];
    for (let k = 0; k < this.K; k++) {
      const texel = new Float32Array(4);
      for (let c = 0; c < 4; c++) texel[c] = 4 * k + c >= 3 && 4 * k + c < this.channels ? 1 : 0;
      gl.bindTexture(gl.TEXTURE_2D, state.textures[k]);
      gl.texSubImage2D(gl.TEXTURE_2D, 0, x + PAD, y + PAD, 1, 1, gl.RGBA, gl.FLOAT, texel);
    }
    this._include(x, y, x + 1, y + 1);
  }

  _pass(program, target, inputs, rect) {
    const gl = this.gl;
    gl.useProgram(program.program);
    inputs.forEach(([name, texture], unit) => {
      gl.activeTexture(gl.TEXTURE0 + unit);
      gl.bindTexture(gl.TEXTURE_2D, texture);
      gl.uniform1i(program.uniforms[name], unit);
    });
    gl.bindFramebuffer(gl.FRAMEBUFFER, target.fbo);
    gl.viewport(rect.x0 + PAD, rect.y0 + PAD, rect.x1 - rect.x0, rect.y1 - rect.y0);
    gl.bindVertexArray(this.vao);
    gl.drawArrays(gl.TRIANGLES, 0, 3);
  }

  /**
   * `n` steps. `masks` (optional): Float32Array of n × height × width update masks (1 = the cell
   * updates, row-major), else each cell fires with probability `fireRate` from the shader's hash.
   */
  step(n = 1, masks = null) {
    const gl = this.gl;
    const cells = this.height * this.width;
    if (masks && masks.length < n * cells) throw new NCAError(`masks hold ${masks.length} values, need ${n * cells}`);
    const { update, alive } = this.programs;
    gl.useProgram(update.program);
    gl.uniform1f(update.uniforms.fireRate, this.fireRate);
    gl.uniform2f(update.uniforms.rot, Math.cos(this.angle), Math.sin(this.angle));
    gl.uniform1f(update.uniforms.threshold, this.threshold);
    gl.uniform1f(update.uniforms.stepSize, this.stepSize);
    gl.uniform1i(update.uniforms.useMask, masks ? 1 : 0);
    gl.useProgram(alive.program);
    gl.uniform1f(alive.uniforms.threshold, this.threshold);
    for (let t = 0; t < n; t++) {
      if (this.sinceRefresh >= this.refreshEvery) this.refreshRegion();
      const [state, fresh, out] = this.sets;
      const region = this.region;
      this.stepCount += 1;
      this.sinceRefresh += 1;
      if (isEmpty(region)) continue; // nothing alive: the state stays all zero
      if (masks) {
        gl.bindTexture(gl.TEXTURE_2D, this.maskTex);
        const mask = masks.subarray(t * cells, (t + 1) * cells);
        gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, this.width, this.height, gl.RED, gl.FLOAT, mask);
      }
      gl.useProgram(update.program);
      gl.uniform1ui(update.uniforms.seed, (this.seed + Math.imul(this.stepCount, 0x9e3779b9)) >>> 0);
      // Pass 1 writes region + 2 (pass 2 reads the 3×3 around region + 1); pass 2 writes region + 1,
      // the only cells that can be non-zero after the step.
      const inputs = state.textures.map((tex, k) => [`s${k}`, tex]);
      this._pass(update, fresh, [...inputs, ["maskTex", this.maskTex]], grow(region, 2, this.width, this.height));
      const next = grow(region, 1, this.width, this.height);
      this._pass(alive, out, [["old0", state.textures[0]], ...fresh.textures.map((tex, k) => [`n${k}`, tex])], next);
      this.sets = [out, fresh, state];
      this.region = next;
    }
  }

  /**
   * Measure the region again: the bounding box of the non-zero cells (read back from the state).
   * The sets other than the state are cleared where the region shrinks, so that the cells outside
   * the region stay zero in every texture a step writes.
   */
  refreshRegion() {
    const gl = this.gl;
    this.sinceRefresh = 0;
    const r = this.region;
    if (isEmpty(r)) return;
    const [w, h] = [r.x1 - r.x0, r.y1 - r.y0];
    const texels = new Float32Array(w * h * 4);
    const any = new Uint8Array(w * h);
    gl.bindFramebuffer(gl.READ_FRAMEBUFFER, this.sets[0].fbo);
    for (let k = 0; k < this.K; k++) {
      gl.readBuffer(gl.COLOR_ATTACHMENT0 + k);
      gl.readPixels(r.x0 + PAD, r.y0 + PAD, w, h, gl.RGBA, gl.FLOAT, texels);
      for (let i = 0; i < w * h; i++) {
        if (texels[4 * i] !== 0 || texels[4 * i + 1] !== 0 || texels[4 * i + 2] !== 0 || texels[4 * i + 3] !== 0) {
          any[i] = 1;
        }
      }
    }
    gl.bindFramebuffer(gl.READ_FRAMEBUFFER, null);
    let [x0, y0, x1, y1] = [w, h, 0, 0];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if (any[y * w + x]) {
          x0 = Math.min(x0, x);
          x1 = Math.max(x1, x + 1);
          y0 = Math.min(y0, y);
          y1 = Math.max(y1, y + 1);
        }
      }
    }
    const tight = x0 < x1 ? { x0: r.x0 + x0, y0: r.y0 + y0, x1: r.x0 + x1, y1: r.y0 + y1 } : { ...EMPTY };
    if (tight.x0 !== r.x0 || tight.y0 !== r.y0 || tight.x1 !== r.x1 || tight.y1 !== r.y1) {
      this._clearSets(this.sets.slice(1), grow(r, 2, this.width, this.height));
    }
    this.region = tight;
  }

  /** Zero every cell whose centre is within `radius` cells of (x, y) (continuous cell coordinates). */
  erase(x, y, radius) {
    if (isEmpty(this.region)) return;
    const gl = this.gl;
    const erase = this.programs.erase;
    gl.useProgram(erase.program);
    gl.uniform3f(erase.uniforms.disc, x, y, radius);
    const [state, spare, out] = this.sets;
    this._pass(
      erase,
      out,
      state.textures.map((tex, k) => [`s${k}`, tex]),
      this.region,
    );
    this.sets = [out, spare, state];
  }

  /** Draw the state on the canvas (one pixel per cell; CSS scales it). */
  render() {
    const gl = this.gl;
    gl.useProgram(this.display.program);
    gl.activeTexture(gl.TEXTURE0);
    gl.bindTexture(gl.TEXTURE_2D, this.sets[0].textures[0]);
    gl.uniform1i(this.display.uniforms.s0, 0);
    gl.uniform1i(this.display.uniforms.rows, this.height);
    gl.bindFramebuffer(gl.FRAMEBUFFER, null);
    gl.viewport(0, 0, this.width, this.height);
    gl.bindVertexArray(this.vao);
    gl.drawArrays(gl.TRIANGLES, 0, 3);
  }

  /** The displayed RGBA bytes (height × width × 4, row 0 = top), rendered now. */
  readPixels() {
    const gl = this.gl;
    this.render();
    const [w, h] = [this.width, this.height];
    const flipped = new Uint8Array(w * h * 4);
    gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, flipped);
    const pixels = new Uint8Array(w * h * 4);
    for (let i = 0; i < h; i++) pixels.set(flipped.subarray((h - 1 - i) * w * 4, (h - i) * w * 4), i * w * 4);
    return pixels;
  }

  /** The state as a Float32Array, height × width × channels (HWC, row 0 first). */
  readState() {
    const gl = this.gl;
    const [w, h, C] = [this.width, this.height, this.channels];
    const state = new Float32Array(h * w * C);
    const texel = new Float32Array(h * w * 4);
    gl.bindFramebuffer(gl.READ_FRAMEBUFFER, this.sets[0].fbo);
    for (let k = 0; k < this.K; k++) {
      gl.readBuffer(gl.COLOR_ATTACHMENT0 + k);
      gl.readPixels(PAD, PAD, w, h, gl.RGBA, gl.FLOAT, texel);
      for (let i = 0; i < h * w; i++) {
        for (let c = 0; c < 4 && 4 * k + c < C; c++) state[i * C + 4 * k + c] = texel[i * 4 + c];
      }
    }
    gl.bindFramebuffer(gl.READ_FRAMEBUFFER, null);
    return state;
  }

  /** Replace the state with `state` (Float32Array, height × width × channels). */
  writeState(state) {
    const gl = this.gl;
    const [w, h, C] = [this.width, this.height, this.channels];
    if (state.length !== h * w * C) throw new NCAError(`state holds ${state.length} values, need ${h * w * C}`);
    this._clearSets(this.sets.slice(1), null);
    for (let k = 0; k < this.K; k++) {
      const texel = new Float32Array(h * w * 4);
      for (let i = 0; i < h * w; i++) {
        for (let c = 0; c < 4 && 4 * k + c < C; c++) texel[i * 4 + c] = state[i * C + 4 * k + c];
      }
      gl.bindTexture(gl.TEXTURE_2D, this.sets[0].textures[k]);
      gl.texSubImage2D(gl.TEXTURE_2D, 0, PAD, PAD, w, h, gl.RGBA, gl.FLOAT, texel);
    }
    this.region = { x0: 0, y0: 0, x1: w, y1: h };
    this.refreshRegion();
  }

  /** Wait until the GPU has finished every queued step (reads one texel back). */
  sync() {
    const gl = this.gl;
    gl.bindFramebuffer(gl.READ_FRAMEBUFFER, this.sets[0].fbo);
    gl.readBuffer(gl.COLOR_ATTACHMENT0);
    gl.readPixels(PAD, PAD, 1, 1, gl.RGBA, gl.FLOAT, new Float32Array(4));
    gl.bindFramebuffer(gl.READ_FRAMEBUFFER, null);
  }
}

// ---- the page ----------------------------------------------------------------------------------
const KEYS_HELP = "space play/pause · N one step · R reset · + / − steps per frame · [ ] rotate 15° · 0 upright";
/** Steps per frame 0 = auto: about AUTO_RATE steps per second whatever the frame rate, at most AUTO_MAX a frame. */
const AUTO_RATE = 60;
const AUTO_MAX = 8;

function formatMetric(value) {
  return typeof value === "number" ? Number(value.toPrecision(4)).toString() : String(value);
}

/**
 * Wire up the exported page (index.html's elements, ids `nca-*`) for `models`: a list of
 * {name, description, config, metrics, card_url, size, weights_b64, target_png_b64}. Starts
 * growing the first model (or ?model=NAME) at once, and exposes `window.nca` for tests.
 */
export function mountPage(models, doc = document) {
  const $ = (id) => doc.getElementById(`nca-${id}`);
  const els = Object.fromEntries(
    ["canvas", "error", "status", "title", "description", "model", "play", "step", "reset", "speed", "angle", "fire"]
      .concat(["brush", "size", "target", "metrics", "card", "keys"])
      .map((id) => [id, $(id)]),
  );
  const fail = (err) => {
    els.error.textContent = err && err.message ? err.message : String(err);
    els.error.hidden = false;
    els.status.textContent = "not running";
    window.nca = { ready: false, error: els.error.textContent };
  };
  window.addEventListener("error", (e) => fail(e.error || e.message));
  window.addEventListener("unhandledrejection", (e) => fail(e.reason));

  const params = new URLSearchParams(location.search);
  const byName = new Map(models.map((m) => [m.name, m]));
  const decoded = new Map();
  const load = (m) => {
    if (!decoded.has(m.name)) decoded.set(m.name, { ...m, weights: base64ToFloats(m.weights_b64) });
    return decoded.get(m.name);
  };
  let current = byName.get(params.get("model")) || models[0];
  const size = Math.min(Math.max(parseInt(params.get("size"), 10) || current.size || 72, 8), 256);
  let engine;
  try {
    engine = new NCA(els.canvas, load(current), { height: size, width: size });
  } catch (err) {
    fail(err);
    return null;
  }

  let playing = params.get("paused") !== "1";
  const speedParam = parseInt(params.get("speed"), 10);
  let speed = Number.isFinite(speedParam) ? speedParam : parseInt(els.speed.value, 10) || 0;
  let lastFrameSteps = 0;
  let brush = parseFloat(els.brush.value) || 6;
  let dirty = true;
  let stepsPerSecond = 0;
  let framesPerSecond = 0;

  const show = () => {
    els.play.textContent = playing ? "pause" : "play";
    els.speed.value = speed;
    els.speed.nextElementSibling.textContent = speed === 0 ? `auto (${lastFrameSteps})` : speed;
    const degrees = Math.round((engine.angle * 180) / Math.PI);
    els.angle.value = degrees;
    els.angle.nextElementSibling.textContent = `${degrees}°`;
    els.fire.value = engine.fireRate;
    els.fire.nextElementSibling.textContent = engine.fireRate.toFixed(2);
    els.brush.nextElementSibling.textContent = brush;
    if (![...els.size.options].some((o) => o.value === String(engine.height))) {
      els.size.add(new Option(`${engine.height}×${engine.width}`, String(engine.height)));
    }
    els.size.value = String(engine.height);
    els.canvas.style.aspectRatio = `${engine.width} / ${engine.height}`;
  };
  const status = () => {
    els.status.textContent =
      `step ${engine.stepCount} · ${stepsPerSecond.toFixed(1)} steps/s · ${framesPerSecond.toFixed(0)} frames/s · ` +
      `${engine.height}×${engine.width} grid${playing ? "" : " · paused"}`;
  };
  const describe = (m) => {
    doc.title = `${m.name} — Growing Neural Cellular Automaton`;
    els.title.textContent = m.name;
    els.description.textContent = m.description || "";
    els.target.src = m.target_png_b64 ? `data:image/png;base64,${m.target_png_b64}` : "";
    els.target.hidden = !m.target_png_b64;
    els.metrics.replaceChildren(
      ...Object.entries(m.metrics || {}).map(([key, value]) => {
        const row = doc.createElement("tr");
        for (const text of [key, formatMetric(value)]) row.appendChild(doc.createElement("td")).textContent = text;
        return row;
      }),
    );
    els.card.hidden = !m.card_url;
    if (m.card_url) els.card.href = m.card_url;
  };
  const select = (name) => {
    const m = byName.get(name);
    if (!m) throw new NCAError(`no model ${name} on this page`);
    current = m;
    engine.setModel(load(m));
    engine.reset();
    els.model.value = name;
    describe(m);
    show();
    dirty = true;
  };

  if (models.length > 1) {
    for (const m of models) els.model.add(new Option(m.name, m.name));
    els.model.hidden = false;
  }
  els.model.value = current.name;
  els.keys.textContent = KEYS_HELP;
  describe(current);
  if (params.has("angle")) engine.angle = (parseFloat(params.get("angle")) * Math.PI) / 180;
  show();

  // ---- controls ----
  const setPlaying = (on) => {
    playing = on;
    show();
    status();
  };
  const stepOnce = () => {
    setPlaying(false);
    engine.step(1);
    dirty = true;
    status();
  };
  const reset = () => {
    engine.reset();
    dirty = true;
    status();
  };
  const setSpeed = (n) => {
    speed = Math.min(Math.max(Math.round(n), 0), 64);
    show();
  };
  const setAngle = (radians) => {
    engine.angle = radians;
    show();
  };
  const resize = (height, width = height) => {
    engine.resize(height, width);
    dirty = true;
    show();
    status();
  };
  const click = (button, action) =>
    button.addEventListener("click", () => {
      action();
      button.blur();
    });
  click(els.play, () => setPlaying(!playing));
  click(els.step, stepOnce);
  click(els.reset, reset);
  els.speed.addEventListener("input", () => setSpeed(parseInt(els.speed.value, 10)));
  els.angle.addEventListener("input", () => setAngle((parseFloat(els.angle.value) * Math.PI) / 180));
  els.fire.addEventListener("input", () => {
    engine.fireRate = parseFloat(els.fire.value);
    show();
  });
  els.brush.addEventListener("input", () => {
    brush = parseFloat(els.brush.value);
    show();
  });
  els.size.addEventListener("change", () => resize(parseInt(els.size.value, 10)));
  els.model.addEventListener("change", () => select(els.model.value));

  // ---- pointer: drag to erase, double click / double tap to plant a seed ----
  const canvas = els.canvas;
  const cellAt = (e) => {
    const r = canvas.getBoundingClientRect();
    return [
      ((e.clientX - r.left - canvas.clientLeft) / canvas.clientWidth) * engine.width,
      ((e.clientY - r.top - canvas.clientTop) / canvas.clientHeight) * engine.height,
    ];
  };
  let last = null;
  let lastDown = { time: -1e9, at: [-1e9, -1e9] };
  const eraseTo = ([x, y]) => {
    const [x0, y0] = last || [x, y];
    const n = Math.max(1, Math.ceil(Math.hypot(x - x0, y - y0) / Math.max(brush / 2, 0.5)));
    for (let i = 1; i <= n; i++) engine.erase(x0 + ((x - x0) * i) / n, y0 + ((y - y0) * i) / n, brush);
    last = [x, y];
    dirty = true;
  };
  canvas.addEventListener("pointerdown", (e) => {
    if (e.pointerType === "mouse" && e.button !== 0) return;
    e.preventDefault();
    const at = cellAt(e);
    const now = performance.now();
    const again = now - lastDown.time < 400 && Math.hypot(at[0] - lastDown.at[0], at[1] - lastDown.at[1]) < 3;
    lastDown = { time: again ? -1e9 : now, at };
    if (again) {
      engine.plant(Math.floor(at[0]), Math.floor(at[1]));
      dirty = true;
      return;
    }
    canvas.setPointerCapture(e.pointerId);
    last = null;
    eraseTo(at);
  });
  canvas.addEventListener("pointermove", (e) => {
    if (last && canvas.hasPointerCapture(e.pointerId)) eraseTo(cellAt(e));
  });
  const stop = () => {
    last = null;
  };
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);

  // ---- keyboard ----
  doc.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || /^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName || "")) return;
    const actions = {
      " ": () => setPlaying(!playing),
      n: stepOnce,
      r: reset,
      "+": () => setSpeed(speed + 1),
      "=": () => setSpeed(speed + 1),
      "-": () => setSpeed(speed - 1),
      "[": () => setAngle(engine.angle - Math.PI / 12),
      "]": () => setAngle(engine.angle + Math.PI / 12),
      0: () => setAngle(0),
    };
    const action = actions[e.key.length === 1 ? e.key.toLowerCase() : e.key];
    if (action) {
      e.preventDefault();
      action();
    }
  });

  // ---- the loop ----
  let windowStart = performance.now();
  let windowSteps = 0;
  let windowFrames = 0;
  let lastFrame = performance.now();
  let owed = 0; // auto speed: steps due but not yet run
  const frame = (now) => {
    const dt = Math.min((now - lastFrame) / 1000, 0.5);
    lastFrame = now;
    if (playing) {
      let n = speed;
      if (speed === 0) {
        owed = Math.min(owed + AUTO_RATE * dt, AUTO_MAX);
        n = Math.floor(owed); // 0 on some frames above 60 Hz
        owed -= n;
      }
      if (n > 0) {
        engine.step(n);
        windowSteps += n;
        lastFrameSteps = n;
        dirty = true;
      }
    }
    if (dirty) {
      engine.render();
      dirty = false;
    }
    windowFrames += 1;
    if (now - windowStart >= 500) {
      stepsPerSecond = (windowSteps * 1000) / (now - windowStart);
      framesPerSecond = (windowFrames * 1000) / (now - windowStart);
      [windowStart, windowSteps, windowFrames] = [now, 0, 0];
      status();
      if (speed === 0) show();
    }
    requestAnimationFrame(frame);
  };
  status();
  requestAnimationFrame(frame);

  // ---- the test hook: drive the page from a browser test and read its state back ----
  const api = {
    ready: true,
    engine,
    NCA, // the class, for tests that run other models on their own canvas
    base64ToFloats,
    bytesToBase64,
    models: models.map((m) => m.name),
    get model() {
      return current.name;
    },
    get stepCount() {
      return engine.stepCount;
    },
    get stepsPerSecond() {
      return stepsPerSecond;
    },
    get playing() {
      return playing;
    },
    get size() {
      return [engine.height, engine.width];
    },
    play: () => setPlaying(true),
    pause: () => setPlaying(false),
    select,
    resize,
    reset,
    setSpeed,
    setAngle,
    setFireRate: (rate) => {
      engine.fireRate = rate;
      show();
    },
    /** `steps` steps now (masks: base64 float32, steps × H × W, or none for the page's own); waits. */
    run(steps, masksBase64 = null) {
      engine.step(steps, masksBase64 ? base64ToFloats(masksBase64) : null);
      engine.sync();
      dirty = true;
      return engine.stepCount;
    },
    state: () => bytesToBase64(engine.readState()),
    setState(stateBase64) {
      engine.writeState(base64ToFloats(stateBase64));
      dirty = true;
    },
    pixels: () => bytesToBase64(engine.readPixels()),
    erase(x, y, radius) {
      engine.erase(x, y, radius);
      dirty = true;
    },
    plant(x, y) {
      engine.plant(x, y);
      dirty = true;
    },
    /** Steps per second of `steps` steps without drawing, timed from first to last finished step. */
    benchmark(steps = 200) {
      engine.sync();
      const t0 = performance.now();
      engine.step(steps);
      engine.sync();
      const seconds = (performance.now() - t0) / 1000;
      dirty = true;
      return { steps, seconds, stepsPerSecond: steps / seconds };
    },
  };
  window.nca = api;
  return api;
}
