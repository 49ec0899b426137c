// The search for the unit that follows a feature of the text: simple features of each
// character, and every unit of every layer and value ranked by |Pearson r| with one.

// Text features a unit may track; each maps the text to one number per character
// (the value after reading it), as in Karpathy et al.'s quote and line-length cells.
export const FEATURES = {
  quotes: ['inside "double quotes"', insideBetween('"', '"')],
  brackets: ['inside [square brackets]', insideBetween('[', ']')],
  parentheses: ['inside (parentheses)', insideBetween('(', ')')],
  line: ['position in the line', positionAfter('\n')],
  bar: ['position in the bar (ABC |)', positionAfter('|')],
  upper: ['an upper-case letter', (text) => Array.from(text, (c) => (c !== c.toLowerCase() ? 1 : 0))],
  vowel: ['a vowel', (text) => Array.from(text, (c) => ('aeiouAEIOU'.includes(c) ? 1 : 0))],
  space: ['a space or line end', (text) => Array.from(text, (c) => (c === ' ' || c === '\n' ? 1 : 0))],
};

function insideBetween(open, close) {
  return (text) => {
    let inside = 0;
    return Array.from(text, (character) => {
      if (open === close && character === open) inside = 1 - inside;
      else if (character === open) inside = 1;
      else if (character === close) inside = 0;
      return inside;
    });
  };
}

function positionAfter(separator) {
  return (text) => {
    let position = 0;
    return Array.from(text, (character) => {
      position = character === separator ? 0 : position + 1;
      return position;
    });
  };
}

// Every unit of every layer and channel, most correlated first (by |r|).
export function rankUnits(model, activations, target) {
  const n = target.length;
  const meanTarget = target.reduce((a, b) => a + b, 0) / n;
  const centred = target.map((value) => value - meanTarget);
  const targetNorm = Math.sqrt(centred.reduce((a, b) => a + b * b, 0));
  if (targetNorm === 0) return [];
  const ranked = [];
  for (let layer = 0; layer < model.layers; layer += 1) {
    for (let channel = 0; channel < model.channels.length; channel += 1) {
      for (let unit = 0; unit < model.hidden; unit += 1) {
        const offset = model.offset(layer, channel, unit);
        let mean = 0;
        for (let t = 0; t < n; t += 1) mean += activations[t][offset];
        mean /= n;
        let product = 0;
        let norm = 0;
        for (let t = 0; t < n; t += 1) {
          const value = activations[t][offset] - mean;
          product += value * centred[t];
          norm += value * value;
        }
        if (norm > 0) ranked.push({ layer, channel, unit, r: product / Math.sqrt(norm) / targetNorm });
      }
    }
  }
  return ranked.sort((a, b) => Math.abs(b.r) - Math.abs(a.r));
}
