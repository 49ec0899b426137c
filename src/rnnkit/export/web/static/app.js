// The playground's entry: read the manifest and vocabulary, load the model, open the
// page the manifest names (text or music). `document.body.dataset.state` says where the
// page is (loading, ready, busy, error), for people and for the page tests alike.
import { loadModel, ortVersion } from './model.js';

const $ = (id) => document.getElementById(id);

export function setStatus(text, state) {
  $('status').textContent = text;
  if (state) document.body.dataset.state = state;
}

// The number in the field `id`, checked: one line naming the field, the range and the
// value otherwise, as rnnkit's command line does.
export function readNumber(id, low, high, integer) {
  const field = $(id);
  const value = Number(field.value);
  const label = document.querySelector(`label[for="${id}"]`).textContent;
  if (field.value === '' || !Number.isFinite(value) || value < low || value > high
      || (integer && !Number.isInteger(value))) {
    throw new Error(`${label} must be ${integer ? 'a whole number' : 'a number'} from ${low} `
      + `to ${high}, got ${JSON.stringify(field.value)}`);
  }
  return value;
}

// The vocabulary both ways; unknown characters are named, as rnnkit's strict encoding does.
export class Vocabulary {
  constructor(tokens) {
    this.tokens = tokens;
    this.ids = new Map(tokens.map((token, id) => [token, id]));
  }

  encode(text) {
    return Array.from(text, (character) => {
      const id = this.ids.get(character);
      if (id === undefined) {
        throw new Error(`the character ${JSON.stringify(character)} is not in the model's vocabulary`);
      }
      return id;
    });
  }

  has(character) { return this.ids.has(character); }
}

async function fetchJson(path) {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function describe(manifest) {
  const { model } = manifest;
  const cell = {
    LSTM: 'LSTM', GRU: 'GRU', RNN_TANH: 'RNN (tanh)', RNN_RELU: 'RNN (ReLU)',
    minGRU: 'minGRU blocks', minLSTM: 'minLSTM blocks',
  }[model.mode];
  const parameters = model.parameters.toLocaleString('en');
  return `${model.layers} × ${model.hidden_size} ${cell}, ${model.vocab_size} characters, `
    + `${parameters} parameters${manifest.data.dataset ? `, trained on ${manifest.data.dataset}` : ''}`;
}

function footer(manifest) {
  const vendored = Object.entries(manifest.vendor).map(([name, version]) => `${name} ${version}`);
  const difference = manifest.verification.max_abs_difference.toExponential(1);
  return `Runs in this browser on ${vendored.join(' and ')} (vendored; nothing is fetched from elsewhere). `
    + `The step graph matches the PyTorch model to ${difference}. Written by rnnkit web.`;
}

async function main() {
  try {
    const manifest = await fetchJson('./playground.json');
    const vocabulary = new Vocabulary((await fetchJson('./vocab.json')).tokens);
    $('title').textContent = `rnnkit playground: ${manifest.title}`;
    document.title = `${manifest.title}: rnnkit playground`;
    $('model-line').textContent = describe(manifest);
    $('footer').textContent = footer(manifest);
    const model = await loadModel(manifest.model);
    const page = manifest.page === 'music'
      ? await import('./music_page.js') : await import('./text_page.js');
    await page.open({ manifest, vocabulary, model });
    setStatus(`Ready (onnxruntime-web ${ortVersion}).`, 'ready');
  } catch (error) {
    setStatus(`Could not start: ${error.message}`, 'error');
    console.error(error);
  }
}

main();
