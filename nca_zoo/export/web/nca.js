/*
 * nca.js: run an nca-zoo ONNX export with onnxruntime-web, in a browser or under Node.
 *
 * The caller passes the onnxruntime-web module in (in the browser the global `ort` of the page's
 * own ort/ort.wasm.min.js, in Node require("onnxruntime-web")), so this file has no imports and
 * the same code runs in both;
 * the nca-zoo test suite runs it under Node and compares with JAX.
 *
 * States are Float32Array in NHWC order [batch, height, width, channels]; masks are [batch, height,
 * width, 1] with 1 where the cell updates (the randomness is an input, see README.md).
 */
(function (root, factory) {
  if (typeof module === "object" && module.exports) module.exports = factory();
  else root.NCA = factory();
})(typeof globalThis !== "undefined" ? globalThis : this, function () {
  "use strict";

  class NCA {
    constructor(ort, stepSession, rolloutSession, channels) {
      this.ort = ort;
      this.stepSession = stepSession;
      this.rolloutSession = rolloutSession;
      this.channels = channels;
    }

    /** Load the step model and (optionally, else null) the rollout model: URLs or bytes. */
    static async load(ort, stepModel, rolloutModel, channels = 16) {
      const options = { executionProviders: ["wasm"] };
      const step = await ort.InferenceSession.create(stepModel, options);
      const rollout = rolloutModel ? await ort.InferenceSession.create(rolloutModel, options) : null;
      return new NCA(ort, step, rollout, channels);
    }

    /** The Distill seed: zeros, with channels 3.. set to 1 in the centre cell of every grid. */
    seed(batch, height, width) {
      const c = this.channels;
      const state = new Float32Array(batch * height * width * c);
      const centre = Math.floor(height / 2) * width + Math.floor(width / 2);
      for (let b = 0; b < batch; b++) {
        state.fill(1, ((b * height * width) + centre) * c + 3, ((b * height * width) + centre + 1) * c);
      }
      return state;
    }

    /** A fresh update mask: each cell fires with probability fireRate (random() in [0, 1)). */
    randomMask(batch, height, width, fireRate = 0.5, random = Math.random) {
      const mask = new Float32Array(batch * height * width);
      for (let i = 0; i < mask.length; i++) mask[i] = random() < fireRate ? 1 : 0;
      return mask;
    }

    /** One step: returns the new state (Float32Array). */
    async step(state, mask, batch, height, width, angle = 0) {
      const T = this.ort.Tensor;
      const feeds = {
        state: new T("float32", state, [batch, height, width, this.channels]),
        update_mask: new T("float32", mask, [batch, height, width, 1]),
        angle: new T("float32", new Float32Array([angle]), []),
      };
      const out = await this.stepSession.run(feeds);
      return out.new_state.data;
    }

    /** `steps` steps in one call of the rollout model; `masks` holds steps × batch × height × width values. */
    async rollout(state, masks, steps, batch, height, width, angle = 0) {
      if (!this.rolloutSession) throw new Error("NCA.load was given no rollout model");
      const T = this.ort.Tensor;
      const feeds = {
        state: new T("float32", state, [batch, height, width, this.channels]),
        update_masks: new T("float32", masks, [steps, batch, height, width, 1]),
        angle: new T("float32", new Float32Array([angle]), []),
      };
      const out = await this.rolloutSession.run(feeds);
      return out.new_state.data;
    }

    /** RGBA bytes of grid `index` as Distill shows it: premultiplied RGB over white, 1 - a + rgb. */
    toRGBA(state, height, width, index = 0) {
      const c = this.channels;
      const pixels = new Uint8ClampedArray(height * width * 4);
      const offset = index * height * width * c;
      for (let i = 0; i < height * width; i++) {
        const s = offset + i * c;
        const a = Math.min(Math.max(state[s + 3], 0), 1);
        for (let k = 0; k < 3; k++) pixels[i * 4 + k] = 255 * (1 - a + state[s + k]);
        pixels[i * 4 + 3] = 255;
      }
      return pixels;
    }

    /** Erase a disc of `radius` cells around (x, y) in every grid (what a click does in the demo). */
    erase(state, batch, height, width, x, y, radius) {
      const c = this.channels;
      for (let b = 0; b < batch; b++) {
        for (let i = 0; i < height; i++) {
          for (let j = 0; j < width; j++) {
            if ((i - y) ** 2 + (j - x) ** 2 < radius * radius) {
              state.fill(0, ((b * height + i) * width + j) * c, ((b * height + i) * width + j + 1) * c);
            }
          }
        }
      }
      return state;
    }
  }

  return NCA;
});
