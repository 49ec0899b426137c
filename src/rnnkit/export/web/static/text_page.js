// The text page: sample with the usual controls, watch the text stream in, click a
// character for the next-character distribution, colour the text by one unit (Karpathy,
// Johnson and Fei-Fei 2015, "Visualizing and Understanding Recurrent Networks"), and
// search for the unit that follows a feature of the text.
import { readNumber, setStatus } from './app.js';
import { drawToken, seededRandom, softmax } from './model.js';
import { FEATURES, rankUnits } from './unit_search.js';

const $ = (id) => document.getElementById(id);
const PAINT_EVERY_MS = 40; // how long the page writes before the browser may repaint
const TOP = 10;
const SHOWN = { ' ': '␣', '\n': '↵', '\t': '⇥' };

// What the page keeps per character of the text: the character, whether it came from the
// prime, every unit's value after reading it, and the next-character distribution there.
class Transcript {
  constructor() { this.clear(); }

  clear() {
    this.characters = [];
    this.fromPrime = [];
    this.activations = [];
    this.probabilities = [];
  }

  add(character, fromPrime, activations, logits) {
    this.characters.push(character);
    this.fromPrime.push(fromPrime);
    this.activations.push(activations);
    this.probabilities.push(softmax(logits));
  }

  get length() { return this.characters.length; }

  text() { return this.characters.join(''); }
}

export async function open({ manifest, vocabulary, model }) {
  const view = new TextPage(manifest, vocabulary, model);
  view.bind();
  $('text-page').hidden = false;
}

class TextPage {
  constructor(manifest, vocabulary, model) {
    this.manifest = manifest;
    this.vocabulary = vocabulary;
    this.model = model;
    this.transcript = new Transcript();
    this.spans = [];
    this.selected = -1;
    this.stopRequested = false;
    this.painted = 0; // when the text was last repainted (performance.now())
  }

  bind() {
    const { defaults } = this.manifest;
    $('prime').value = defaults.prime;
    $('temperature').value = defaults.temperature;
    $('top-k').value = defaults.top_k;
    $('top-p').value = defaults.top_p;
    $('length').value = defaults.length;
    $('seed').value = defaults.seed;
    this.fillActivationControls();
    $('text-form').addEventListener('submit', (event) => { event.preventDefault(); this.generate(); });
    $('stop').addEventListener('click', () => { this.stopRequested = true; });
    $('text-output').addEventListener('click', (event) => this.clicked(event));
    $('text-output').addEventListener('keydown', (event) => this.key(event));
    for (const id of ['layer', 'channel', 'unit', 'colour']) {
      $(id).addEventListener('input', () => this.colour());
    }
    $('find-unit').addEventListener('click', () => this.findUnit());
  }

  fillActivationControls() {
    const { layers, channels, hidden_size: hidden } = this.manifest.model;
    $('layer').replaceChildren(...Array.from({ length: layers },
      (_, index) => new Option(`${index + 1}`, `${index}`)));
    $('channel').replaceChildren(...channels.map(
      (name, index) => new Option(name.replace('_', ' '), `${index}`)));
    $('unit').max = `${hidden - 1}`;
    $('unit').value = '0';
    $('feature').replaceChildren(...Object.entries(FEATURES).map(
      ([key, [label]]) => new Option(label, key)));
    $('layer').value = `${layers - 1}`;
    const cell = channels.indexOf('cell');
    $('channel').value = `${cell >= 0 ? cell : 0}`;
  }

  settings() {
    return {
      prime: $('prime').value,
      temperature: readNumber('temperature', 0, 5, false),
      topK: readNumber('top-k', 0, this.manifest.model.vocab_size, true),
      topP: readNumber('top-p', 0.01, 1, false),
      length: readNumber('length', 0, 20000, true),
      seed: readNumber('seed', 0, 2 ** 32 - 1, true),
    };
  }

  async generate() {
    let settings;
    try {
      settings = this.settings();
      if (settings.prime === '') throw new Error('Prime is empty: the model needs at least one character to start from');
      try {
        this.vocabulary.encode(settings.prime);
      } catch (error) {
        throw new Error(`Prime: ${error.message}`);
      }
    } catch (error) {
      setStatus(error.message, 'ready');
      return;
    }
    this.busy(true);
    this.reset();
    try {
      await this.write(settings);
    } catch (error) {
      setStatus(`Stopped: ${error.message}`, 'error');
      console.error(error);
      this.busy(false);
      return;
    }
    this.busy(false);
  }

  async write(settings) {
    const { model, vocabulary } = this;
    const random = seededRandom(settings.seed);
    const primeLength = [...settings.prime].length;
    let state = model.zeroState();
    let logits = null;
    this.painted = performance.now();
    for (const character of settings.prime) { // a long pasted text shows as it is read
      const result = await model.step(vocabulary.ids.get(character), state);
      ({ state, logits } = result);
      this.transcript.add(character, true, result.activations, logits);
      if (this.repaintDue()) {
        await this.repaint(`Reading the prime: ${this.transcript.length} of ${primeLength} characters…`);
      }
    }
    this.showNewCharacters();
    const started = performance.now();
    let written = 0;
    for (; written < settings.length && !this.stopRequested; written += 1) {
      const token = drawToken(logits, settings, random);
      const result = await model.step(token, state);
      ({ state, logits } = result);
      this.transcript.add(vocabulary.tokens[token], false, result.activations, logits);
      if (this.repaintDue()) await this.repaint(progress(written + 1, settings.length, started));
    }
    this.showNewCharacters();
    this.colour();
    this.select(this.transcript.length - 1);
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? written / seconds : 0;
    $('status').dataset.generated = `${written}`;
    $('status').dataset.rate = `${rate}`;
    setStatus(`Wrote ${written} characters in ${seconds.toFixed(2)} s `
      + `(${Math.round(rate).toLocaleString('en')} characters/s)`
      + `${this.stopRequested ? ', stopped' : ''}.`, 'ready');
  }

  // Whether PAINT_EVERY_MS have passed since the last repaint (checked every character,
  // so the check stays a comparison and the await happens only when one is due).
  repaintDue() { return performance.now() - this.painted > PAINT_EVERY_MS; }

  // Show the characters read or written since, say how far the page is, and let the
  // browser repaint.
  async repaint(message) {
    this.showNewCharacters();
    setStatus(message);
    await new Promise((resolve) => { setTimeout(resolve, 0); });
    this.painted = performance.now();
  }

  busy(on) {
    $('generate').disabled = on;
    $('stop').disabled = !on;
    $('find-unit').disabled = on;
    this.stopRequested = false;
    if (on) {
      delete $('status').dataset.generated; // set again, with the rate, when this run ends
      setStatus('Writing…', 'busy');
    }
  }

  reset() {
    this.transcript.clear();
    this.spans = [];
    this.selected = -1;
    $('text-output').replaceChildren();
    $('distribution-bars').replaceChildren();
    $('distribution-caption').textContent = 'Pick a character in the text.';
  }

  // A span for every character of the transcript the page does not show yet.
  showNewCharacters() {
    const fragment = document.createDocumentFragment();
    for (let index = this.spans.length; index < this.transcript.length; index += 1) {
      const span = document.createElement('span');
      span.textContent = this.transcript.characters[index];
      span.dataset.index = `${index}`;
      if (this.transcript.fromPrime[index]) span.className = 'prime';
      this.spans.push(span);
      fragment.append(span);
    }
    $('text-output').append(fragment);
  }

  // The unit the controls name: layer, channel and unit, checked against the model.
  unit() {
    const { layers, channels, hidden_size: hidden } = this.manifest.model;
    const layer = Number($('layer').value);
    const channel = Number($('channel').value);
    const unit = Number($('unit').value);
    if (!Number.isInteger(unit) || unit < 0 || unit >= hidden) return null;
    if (layer < 0 || layer >= layers || channel < 0 || channel >= channels.length) return null;
    return { layer, channel, unit, name: channels[channel] };
  }

  values(unit) {
    const offset = this.model.offset(unit.layer, unit.channel, unit.unit);
    return this.transcript.activations.map((activations) => activations[offset]);
  }

  colour() {
    const unit = this.unit();
    const show = $('colour').checked && unit !== null;
    this.legend(unit);
    if (unit === null) return;
    const values = this.values(unit);
    const squash = scaleFor(unit.name, this.manifest.model.mode);
    this.spans.forEach((span, index) => {
      const value = values[index];
      span.dataset.value = `${value}`;
      span.title = `${unit.name.replace('_', ' ')} = ${value.toFixed(4)}`;
      span.style.backgroundColor = show ? colourOf(squash(value)) : '';
    });
  }

  legend(unit) {
    if (unit === null) {
      $('legend').textContent = 'Pick a unit from 0 to the layer size minus 1.';
      return;
    }
    const gate = unit.name.endsWith('gate');
    const scale = document.createElement('span');
    scale.className = 'scale';
    const low = document.createElement('span');
    const high = document.createElement('span');
    const squashed = unit.name === 'cell' || UNBOUNDED.has(this.manifest.model.mode);
    low.textContent = gate ? '0 (closed)' : (squashed ? `tanh(${unit.name}) −1` : '−1');
    high.textContent = gate ? '1 (open)' : '+1';
    $('legend').replaceChildren(low, scale, high);
  }

  clicked(event) {
    const span = event.target.closest('span[data-index]');
    if (span) this.select(Number(span.dataset.index));
  }

  key(event) {
    const moves = { ArrowLeft: -1, ArrowRight: 1, Home: -Infinity, End: Infinity };
    if (!(event.key in moves) || this.transcript.length === 0) return;
    event.preventDefault();
    const target = Math.min(this.transcript.length - 1, Math.max(0, this.selected + moves[event.key]));
    this.select(Number.isFinite(target) ? target : 0);
  }

  select(index) {
    if (index < 0 || index >= this.transcript.length) return;
    if (this.spans[this.selected]) this.spans[this.selected].classList.remove('selected');
    this.selected = index;
    this.spans[index].classList.add('selected');
    this.spans[index].scrollIntoView({ block: 'nearest' });
    this.showDistribution(index);
  }

  showDistribution(index) {
    const probabilities = this.transcript.probabilities[index];
    const next = this.transcript.characters[index + 1];
    const order = Array.from(probabilities.keys()).sort((a, b) => probabilities[b] - probabilities[a]);
    const shown = order.slice(0, TOP);
    const best = probabilities[shown[0]];
    const after = symbol(this.transcript.characters[index]);
    $('distribution-caption').textContent = `After “${after}” (character ${index + 1}), the model's `
      + `probabilities at temperature 1${next === undefined ? '' : `; outlined: the one written next, “${symbol(next)}”`}.`;
    $('distribution-bars').replaceChildren(...shown.map((id) => {
      const character = this.vocabulary.tokens[id];
      const item = document.createElement('li');
      if (character === next) item.className = 'next';
      const label = document.createElement('span');
      label.className = 'symbol';
      label.textContent = symbol(character);
      const bar = document.createElement('span');
      bar.className = 'bar';
      bar.style.width = `${(100 * probabilities[id]) / best}%`;
      const value = document.createElement('span');
      value.className = 'probability';
      value.textContent = `${(100 * probabilities[id]).toFixed(1)}%`;
      item.dataset.character = character;
      item.dataset.probability = `${probabilities[id]}`;
      item.setAttribute('aria-label', `${symbol(character)}: ${(100 * probabilities[id]).toFixed(1)} percent`);
      item.append(label, bar, value);
      return item;
    }));
  }

  // Every unit of every layer and channel, ranked by |Pearson correlation| with the feature.
  findUnit() {
    const text = this.transcript.text();
    if (text.length < 3) {
      $('search-result').textContent = 'Write or read some text first: the search runs over the text shown.';
      return;
    }
    const [label, feature] = FEATURES[$('feature').value];
    const target = feature(text);
    const ranked = rankUnits(this.model, this.transcript.activations, target);
    if (ranked.length === 0) {
      $('search-result').textContent = `The text shown never changes in “${label}”; pick another feature or another text.`;
      return;
    }
    const describeUnit = (u) => `layer ${u.layer + 1}, ${this.model.channels[u.channel].replace('_', ' ')}, unit ${u.unit}: r = ${u.r.toFixed(3)}`;
    const best = ranked[0];
    $('search-result').textContent = `Closest to “${label}” over ${text.length} characters: ${describeUnit(best)}.`;
    $('search-list').replaceChildren(...ranked.slice(0, 5).map((u) => {
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = describeUnit(u);
      button.addEventListener('click', () => this.showUnit(u));
      item.append(button);
      return item;
    }));
    this.showUnit(best);
  }

  showUnit(u) {
    $('layer').value = `${u.layer}`;
    $('channel').value = `${u.channel}`;
    $('unit').value = `${u.unit}`;
    $('colour').checked = true;
    this.colour();
  }
}

// Each value onto [-1, 1] for its colour: gates live in [0, 1], the cell state is
// unbounded (shown through tanh, as it enters h), and so are the states of a ReLU RNN and
// of minGRU/minLSTM blocks and their candidates.
const UNBOUNDED = new Set(['RNN_RELU', 'minGRU', 'minLSTM']);
function scaleFor(name, mode) {
  if (name.endsWith('gate')) return (value) => 2 * value - 1;
  if (name === 'cell' || UNBOUNDED.has(mode)) return Math.tanh;
  return (value) => Math.max(-1, Math.min(1, value));
}

function colourOf(t) {
  const [r, g, b] = t >= 0 ? [205, 45, 45] : [38, 110, 200];
  return `rgba(${r}, ${g}, ${b}, ${Math.abs(t).toFixed(3)})`;
}

function progress(done, total, started) {
  const rate = done / ((performance.now() - started) / 1000);
  return `Writing: ${done} of ${total} characters (${Math.round(rate).toLocaleString('en')} characters/s)…`;
}

function symbol(character) {
  return SHOWN[character] ?? character;
}
