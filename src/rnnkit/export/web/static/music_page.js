// The music page: write a tune the way `rnnkit music generate` does (rnnkit.music.tunes:
// one stream, a warm-up tune thrown away, a key and meter asked for by header priming),
// check it with the rules of rnnkit.music.validate, draw it and play it with abcjs.
import { readNumber, setStatus } from './app.js';
import { checkTune } from './abc_check.js';
import { drawToken, seededRandom } from './model.js';

const $ = (id) => document.getElementById(id);
const TUNE_PRIME = 'X:';
const TUNE_SEPARATOR = '\n\n';
const NEXT_TUNE = '\nX:';
const TUNE_ENDS = [TUNE_SEPARATOR, NEXT_TUNE];
const HEADER_LINES_MAX = 12;
const LINE_LENGTH_MAX = 200;
const ANY = '';

export async function open({ manifest, vocabulary, model }) {
  await loadScript('./vendor/abcjs-basic-min.js');
  const view = new MusicPage(manifest, vocabulary, model);
  view.bind();
  $('music-page').hidden = false;
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

// One continuous text the model reads (feed) or writes (sample), its state carried.
class Stream {
  constructor(model, vocabulary, options, random) {
    Object.assign(this, { model, vocabulary, options, random });
    this.state = model.zeroState();
    this.logits = null;
    this.text = '';
  }

  async advance(token) {
    const result = await this.model.step(token, this.state);
    this.state = result.state;
    this.logits = result.logits;
  }

  async feed(text) {
    for (const id of this.vocabulary.encode(text)) await this.advance(id);
    this.text += text;
    return text;
  }

  async sample(stops, limit) {
    const start = this.text.length;
    for (let i = 0; i < limit; i += 1) {
      const token = drawToken(this.logits, this.options, this.random);
      await this.advance(token);
      this.text += this.vocabulary.tokens[token];
      if (stops.some((stop) => this.text.endsWith(stop))) break;
    }
    return this.text.slice(start);
  }
}

// The next tune of the stream, from X: to its end, with the forced header lines.
async function nextTune(stream, forced, maxLength) {
  if (!stream.text.endsWith(TUNE_PRIME)) {
    if (stream.text && !TUNE_ENDS.some((end) => stream.text.endsWith(end))) {
      await stream.feed(TUNE_SEPARATOR); // after an unfinished tune: start cleanly
    }
    await stream.feed(TUNE_PRIME);
  }
  let text = TUNE_PRIME + await stream.sample(['\n'], Math.min(LINE_LENGTH_MAX, maxLength));
  if (!text.endsWith('\n')) return text;
  if (Object.keys(forced).length > 0) {
    const header = await forcedHeader(stream, { ...forced });
    if (header === null) return text;
    text += header;
  }
  return text + await stream.sample(TUNE_ENDS, Math.max(1, maxLength - text.length));
}

// Header lines after X:; when the model begins a forced field, the rest of the line is
// the requested one. Null if no K: line came.
async function forcedHeader(stream, forced) {
  let header = '';
  for (let i = 0; i < HEADER_LINES_MAX; i += 1) {
    const start = await stream.sample(['\n'], 2);
    const letter = start.slice(0, 1);
    if (start.endsWith('\n')) return null;
    let line;
    if (letter in forced && start === `${letter}:`) {
      line = start + await stream.feed(`${forced[letter].slice(2)}\n`);
      delete forced[letter];
    } else {
      line = start + await stream.sample(['\n'], LINE_LENGTH_MAX);
    }
    header += line;
    if (start === 'K:') return header;
  }
  return null;
}

class MusicPage {
  constructor(manifest, vocabulary, model) {
    Object.assign(this, { manifest, vocabulary, model });
    this.tune = null;
    this.visual = null;
    this.synth = null;
  }

  bind() {
    const { defaults, music } = this.manifest;
    $('music-temperature').value = defaults.temperature;
    $('music-top-p').value = defaults.top_p;
    $('music-seed').value = defaults.seed;
    $('max-length').value = defaults.length;
    if (music.conditions) { // a conditional model: a class for each, fed with every step
      fillClasses($('key'), music.conditions.keys, 'any key');
      fillClasses($('meter'), music.conditions.meters, 'any meter');
      $('key-help').textContent = 'Fed to the model with every character (its key classes).';
      $('meter-help').textContent = 'Fed the same way (its meter classes).';
    } else {
      fillChoices($('key'), music.keys, 'any key');
      fillChoices($('meter'), music.meters, 'any meter');
    }
    $('music-form').addEventListener('submit', (event) => { event.preventDefault(); this.compose(); });
    $('play').addEventListener('click', () => this.play());
    $('stop-playing').addEventListener('click', () => this.stopPlaying());
  }

  settings() {
    return {
      temperature: readNumber('music-temperature', 0, 5, false),
      topK: 0,
      topP: readNumber('music-top-p', 0.01, 1, false),
      seed: readNumber('music-seed', 0, 2 ** 32 - 1, true),
      maxLength: readNumber('max-length', 10, 5000, true),
    };
  }

  forcedLines() {
    if (this.manifest.music.conditions) {
      // As rnnkit.music.tunes: the model writes the whole header; an unasked field's
      // class is <other> (id 0).
      this.model.setConditions([Number($('key').value || 0), Number($('meter').value || 0)]);
      return {};
    }
    const forced = {};
    if ($('meter').value !== ANY) forced.M = $('meter').value;
    if ($('key').value !== ANY) forced.K = $('key').value;
    return forced;
  }

  async compose() {
    let settings;
    try {
      settings = this.settings();
    } catch (error) {
      setStatus(error.message, 'ready');
      return;
    }
    this.stopPlaying();
    $('compose').disabled = true;
    $('play').disabled = true;
    setStatus('Writing a tune…', 'busy');
    try {
      const forced = this.forcedLines();
      const stream = new Stream(this.model, this.vocabulary, settings, seededRandom(settings.seed));
      const started = performance.now();
      await nextTune(stream, {}, settings.maxLength); // the warm-up tune, thrown away
      const text = await nextTune(stream, forced, settings.maxLength);
      const seconds = (performance.now() - started) / 1000;
      const finished = TUNE_ENDS.some((end) => text.endsWith(end));
      const tune = (text.endsWith('X:') ? text.slice(0, -2) : text).trim();
      this.show(tune, finished);
      setStatus(`Wrote a tune of ${tune.length} characters (and a warm-up tune) in ${seconds.toFixed(1)} s.`, 'ready');
    } catch (error) {
      setStatus(`Stopped: ${error.message}`, 'error');
      console.error(error);
    } finally {
      $('compose').disabled = false;
    }
  }

  show(tune, finished) {
    this.tune = tune;
    $('abc').textContent = tune;
    let check;
    try {
      check = checkTune(tune);
    } catch (error) { // as rnnkit.music.validate, which raises on e.g. M:0/4 with a rest bar
      check = { valid: false, problems: [`the check failed: ${error.message}`], bars: 0 };
    }
    const valid = finished && check.valid;
    const verdict = $('verdict');
    verdict.className = valid ? 'valid' : 'invalid';
    verdict.dataset.valid = `${valid}`;
    const where = [check.key, check.meter, check.bars ? `${check.bars} bars` : null].filter(Boolean).join(', ');
    verdict.textContent = valid
      ? `✓ A valid tune${check.title ? `, “${check.title}”` : ''}: ${where}.`
      : `✗ Not a valid tune${finished ? '' : ' (unfinished: it ran to the length limit)'}.`;
    $('problems').replaceChildren(...check.problems.map((problem) => {
      const item = document.createElement('li');
      item.textContent = problem;
      return item;
    }));
    const rendered = window.ABCJS.renderAbc('score', tune, { responsive: 'resize', add_classes: true });
    this.visual = rendered[0];
    $('play').disabled = !(this.visual && window.ABCJS.synth.supportsAudio());
  }

  async play() {
    if (!this.visual) return;
    this.stopPlaying();
    $('play').disabled = true;
    try {
      const audioContext = new AudioContext();
      await audioContext.resume();
      const synth = new window.ABCJS.synth.CreateSynth();
      await synth.init({
        audioContext,
        visualObj: this.visual,
        // Note samples written beside the page (rnnkit.export.web.notes), not abcjs' server.
        options: { soundFontUrl: new URL('./notes/', window.location.href).href, program: 0 },
      });
      await synth.prime();
      synth.start();
      this.synth = synth;
      $('stop-playing').disabled = false;
      setStatus('Playing.', 'playing');
    } catch (error) {
      setStatus(`Could not play: ${error.message ?? error}`, 'error');
      console.error(error);
    } finally {
      $('play').disabled = false;
    }
  }

  stopPlaying() {
    if (this.synth) this.synth.stop();
    this.synth = null;
    $('stop-playing').disabled = true;
  }
}

// Class names by id, id 0 being <other>: what "any" asks for.
function fillClasses(select, classes, anyLabel) {
  select.replaceChildren(new Option(anyLabel, '0'),
    ...classes.slice(1).map((name, index) => new Option(name, `${index + 1}`)));
}

function fillChoices(select, choices, anyLabel) {
  select.replaceChildren(new Option(anyLabel, ANY),
    ...choices.map((choice) => new Option(choice.value, choice.line)));
  select.disabled = choices.length === 0;
}
