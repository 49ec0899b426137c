// One recurrent step of the model at a time, in onnxruntime-web's WebAssembly backend,
// and the draw of the next character: the browser's side of rnnkit.generate.
import * as ort from './vendor/ort.wasm.bundle.min.mjs';

export const ortVersion = ort.env.versions ? ort.env.versions.web : '';

// The step graph's signature (rnnkit.export.onnx_step): token (batch,) int64, the state
// (layers, batch, hidden) and, for a conditional model, conditions (batch, conditions)
// int64 in; logits (batch, vocab), the state and activations (layers, channels, batch,
// hidden) out. The page runs batch 1.
export class StepModel {
  constructor(session, spec) {
    this.session = session;
    this.layers = spec.layers;
    this.hidden = spec.hidden_size;
    this.channels = spec.channels;
    this.stateInputs = spec.state_inputs;
    this.stateOutputs = spec.state_outputs;
    this.vocabSize = spec.vocab_size;
    this.conditionSizes = spec.condition_sizes ?? [];
    this.setConditions(this.conditionSizes.map(() => 0));
  }

  // The class ids fed with every token from now on (a conditional model only).
  setConditions(ids) {
    this.conditions = new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]);
  }

  zeroState() {
    const size = this.layers * this.hidden;
    return this.stateInputs.map(
      () => new ort.Tensor('float32', new Float32Array(size), [this.layers, 1, this.hidden]));
  }

  // Reads `token` after `state`; returns the logits, the new state and, per layer and
  // channel, every unit's value, copied out of the runtime's buffers.
  async step(token, state) {
    const feeds = { token: new ort.Tensor('int64', BigInt64Array.of(BigInt(token)), [1]) };
    this.stateInputs.forEach((name, index) => { feeds[name] = state[index]; });
    if (this.conditionSizes.length > 0) feeds.conditions = this.conditions;
    const out = await this.session.run(feeds);
    return {
      logits: Float32Array.from(out.logits.data),
      state: this.stateOutputs.map((name) => out[name]),
      activations: Float32Array.from(out.activations.data),
    };
  }

  // Index of (layer, channel, unit) in a step's activations.
  offset(layer, channel, unit) {
    return (layer * this.channels.length + channel) * this.hidden + unit;
  }
}

export async function loadModel(spec) {
  // One thread: a plain static server cannot give the page the cross-origin isolation
  // that threads need, and one step of a small model is too short to share anyway.
  ort.env.wasm.numThreads = 1;
  // The bundle carries its loader; only the binary comes from the folder (vendored).
  ort.env.wasm.wasmPaths = {
    wasm: new URL('./vendor/ort-wasm-simd-threaded.wasm', window.location.href).href,
  };
  const session = await ort.InferenceSession.create('./model.onnx', {
    executionProviders: ['wasm'], graphOptimizationLevel: 'all',
  });
  return new StepModel(session, spec);
}

// A seeded generator of uniform numbers in [0, 1) (mulberry32): the same seed gives the
// same text in any browser. It is not torch's generator, so only greedy text (temperature
// 0) equals `rnnkit sample` character for character.
export function seededRandom(seed) {
  let a = (seed >>> 0) || 0x9e3779b9;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function argmax(values) {
  let best = 0;
  for (let i = 1; i < values.length; i += 1) if (values[i] > values[best]) best = i;
  return best; // the lowest index among equals, as torch.argmax on the CPU
}

export function softmax(logits) {
  let max = -Infinity;
  for (const value of logits) max = Math.max(max, value);
  const out = new Float64Array(logits.length);
  let total = 0;
  for (let i = 0; i < logits.length; i += 1) { out[i] = Math.exp(logits[i] - max); total += out[i]; }
  for (let i = 0; i < out.length; i += 1) out[i] /= total;
  return out;
}

// Token ids ordered by score, highest first; equal scores keep the lower id first.
function descendingOrder(scores) {
  return Array.from(scores.keys()).sort((a, b) => (scores[b] - scores[a]) || (a - b));
}

const NUCLEUS_TOLERANCE = 1e-6; // as rnnkit.generate: rounding cannot add a token

// The next token under rnnkit.generate's rules: temperature (0: the most likely token),
// then top-k, then top-p (nucleus), then a draw with `random`.
export function drawToken(logits, { temperature, topK, topP }, random) {
  if (temperature === 0) return argmax(logits);
  let max = -Infinity;
  for (const value of logits) max = Math.max(max, value);
  const scores = Float64Array.from(logits, (value) => (value - max) / temperature);
  if (topK > 0 && topK < scores.length) {
    descendingOrder(scores).slice(topK).forEach((id) => { scores[id] = -Infinity; });
  }
  if (topP < 1) keepNucleus(scores, topP);
  const probabilities = softmax(scores);
  let remaining = random();
  for (let id = 0; id < probabilities.length; id += 1) {
    remaining -= probabilities[id];
    if (remaining < 0) return id;
  }
  return argmax(probabilities); // rounding left a sliver: the likeliest token
}

function keepNucleus(scores, topP) {
  const order = descendingOrder(scores);
  const probabilities = softmax(order.map((id) => scores[id]));
  let massBefore = 0;
  order.forEach((id, rank) => {
    if (rank > 0 && !(massBefore < topP - NUCLEUS_TOLERANCE)) scores[id] = -Infinity;
    massBefore += probabilities[rank];
  });
}
