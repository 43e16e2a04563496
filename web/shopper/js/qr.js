// A QR Code encoder (ISO/IEC 18004) written for this app: byte mode, error
// correction level M (the level of the Rust reference client), versions 1
// to 40, the mask with the lowest penalty. The phone draws its entry QR with
// it offline, so nothing here talks to a server.

// Error correction codewords per block and number of blocks at level M,
// indexed by version (index 0 unused): the standard's table 9.
const ECC_PER_BLOCK = [0,
  10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26,
  26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28];
const BLOCKS = [0,
  1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16,
  17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49];
/// Format information's two bits for level M.
const LEVEL_M = 0b00;

// GF(256) with the QR polynomial x^8 + x^4 + x^3 + x^2 + 1.
const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
for (let i = 0, v = 1; i < 255; i++) {
  EXP[i] = v;
  LOG[v] = i;
  v <<= 1;
  if (v & 0x100) v ^= 0x11d;
}
for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255];

function gfMul(a, b) {
  return a === 0 || b === 0 ? 0 : EXP[LOG[a] + LOG[b]];
}

/// The Reed-Solomon generator polynomial of `degree`, highest power first.
function generator(degree) {
  let poly = [1];
  for (let i = 0; i < degree; i++) {
    const next = new Array(poly.length + 1).fill(0);
    poly.forEach((c, j) => {
      next[j] ^= c;
      next[j + 1] ^= gfMul(c, EXP[i]);
    });
    poly = next;
  }
  return poly;
}

/// The error correction codewords of `data`: the remainder of data * x^n by the generator.
function eccOf(data, gen) {
  const n = gen.length - 1;
  const rem = new Array(n).fill(0);
  for (const byte of data) {
    const factor = byte ^ rem.shift();
    rem.push(0);
    for (let i = 0; i < n; i++) rem[i] ^= gfMul(gen[i + 1], factor);
  }
  return rem;
}

/// Centres of the alignment patterns of a version, on both axes.
function alignmentCentres(version) {
  if (version === 1) return [];
  const size = version * 4 + 17;
  const count = Math.floor(version / 7) + 2;
  const step = version === 32 ? 26 : Math.ceil((size - 13) / (count - 1) / 2) * 2;
  const centres = [6];
  for (let i = count - 2; i >= 0; i--) centres.push(size - 7 - i * step);
  return centres;
}

/// A square of modules and which of them belong to function patterns.
class Grid {
  constructor(version) {
    this.version = version;
    this.size = version * 4 + 17;
    this.dark = new Uint8Array(this.size * this.size);
    this.fixed = new Uint8Array(this.size * this.size);
    this.drawFunctionPatterns();
  }

  set(x, y, dark) {
    this.dark[y * this.size + x] = dark ? 1 : 0;
    this.fixed[y * this.size + x] = 1;
  }

  drawFunctionPatterns() {
    const s = this.size;
    for (let i = 0; i < s; i++) {
      this.set(6, i, i % 2 === 0);
      this.set(i, 6, i % 2 === 0);
    }
    for (const [cx, cy] of [[3, 3], [s - 4, 3], [3, s - 4]]) {
      for (let dy = -4; dy <= 4; dy++) {
        for (let dx = -4; dx <= 4; dx++) {
          const [x, y] = [cx + dx, cy + dy];
          const ring = Math.max(Math.abs(dx), Math.abs(dy));
          if (x >= 0 && x < s && y >= 0 && y < s) this.set(x, y, ring !== 2 && ring !== 4);
        }
      }
    }
    const centres = alignmentCentres(this.version);
    const last = centres.length - 1;
    centres.forEach((cx, i) => centres.forEach((cy, j) => {
      if ((i === 0 && j === 0) || (i === 0 && j === last) || (i === last && j === 0)) return;
      for (let dy = -2; dy <= 2; dy++) {
        for (let dx = -2; dx <= 2; dx++) this.set(cx + dx, cy + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
      }
    }));
    this.drawFormat(0);
    this.drawVersion();
  }

  /// The 15 format bits (level M, `mask`), BCH-protected, in both copies.
  drawFormat(mask) {
    const data = (LEVEL_M << 3) | mask;
    let rem = data;
    for (let i = 0; i < 10; i++) rem = (rem << 1) ^ ((rem >> 9) * 0x537);
    const bits = ((data << 10) | rem) ^ 0x5412;
    const bit = (i) => (bits >> i) & 1;
    const s = this.size;
    for (let i = 0; i <= 5; i++) this.set(8, i, bit(i));
    this.set(8, 7, bit(6));
    this.set(8, 8, bit(7));
    this.set(7, 8, bit(8));
    for (let i = 9; i < 15; i++) this.set(14 - i, 8, bit(i));
    for (let i = 0; i < 8; i++) this.set(s - 1 - i, 8, bit(i));
    for (let i = 8; i < 15; i++) this.set(8, s - 15 + i, bit(i));
    this.set(8, s - 8, 1);
  }

  /// Versions 7 and up carry their number, BCH-protected, twice.
  drawVersion() {
    if (this.version < 7) return;
    let rem = this.version;
    for (let i = 0; i < 12; i++) rem = (rem << 1) ^ ((rem >> 11) * 0x1f25);
    const bits = (this.version << 12) | rem;
    for (let i = 0; i < 18; i++) {
      const [a, b] = [this.size - 11 + (i % 3), Math.floor(i / 3)];
      this.set(a, b, (bits >> i) & 1);
      this.set(b, a, (bits >> i) & 1);
    }
  }

  /// Codewords the data area holds (function patterns excluded).
  capacityCodewords() {
    return Math.floor(this.fixed.reduce((n, f) => n + (f ? 0 : 1), 0) / 8);
  }

  /// Places codeword bits in the zig-zag order: two-column strips from the
  /// right edge, alternately upwards and downwards, skipping the timing column.
  placeCodewords(codewords) {
    const s = this.size;
    let bit = 0;
    let upward = true;
    for (let right = s - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5;
      for (let step = 0; step < s; step++) {
        const y = upward ? s - 1 - step : step;
        for (const x of [right, right - 1]) {
          if (this.fixed[y * s + x]) continue;
          const byte = codewords[bit >> 3];
          this.dark[y * s + x] = bit < codewords.length * 8 ? (byte >> (7 - (bit & 7))) & 1 : 0;
          bit++;
        }
      }
      upward = !upward;
    }
  }

  applyMask(mask) {
    const test = MASKS[mask];
    for (let y = 0; y < this.size; y++) {
      for (let x = 0; x < this.size; x++) {
        if (!this.fixed[y * this.size + x] && test(y, x)) this.dark[y * this.size + x] ^= 1;
      }
    }
  }
}

/// The eight data masks: module (row i, column j) flips where the test holds.
const MASKS = [
  (i, j) => (i + j) % 2 === 0,
  (i) => i % 2 === 0,
  (i, j) => j % 3 === 0,
  (i, j) => (i + j) % 3 === 0,
  (i, j) => (Math.floor(i / 2) + Math.floor(j / 3)) % 2 === 0,
  (i, j) => ((i * j) % 2) + ((i * j) % 3) === 0,
  (i, j) => (((i * j) % 2) + ((i * j) % 3)) % 2 === 0,
  (i, j) => (((i + j) % 2) + ((i * j) % 3)) % 2 === 0,
];

/// The standard's penalty score of a masked symbol (lower reads better).
function penalty(grid) {
  const s = grid.size;
  const at = (x, y) => grid.dark[y * s + x];
  let score = 0;
  for (const line of [(i, k) => at(k, i), (i, k) => at(i, k)]) {
    for (let i = 0; i < s; i++) {
      let run = 1;
      let pattern = 0;
      for (let k = 0; k < s; k++) {
        if (k > 0 && line(i, k) === line(i, k - 1)) run++;
        else run = 1;
        if (run === 5) score += 3;
        else if (run > 5) score += 1;
        pattern = ((pattern << 1) | line(i, k)) & 0x7ff;
        if (k >= 10 && (pattern === 0b10111010000 || pattern === 0b00001011101)) score += 40;
      }
    }
  }
  let dark = 0;
  for (let y = 0; y < s; y++) {
    for (let x = 0; x < s; x++) {
      dark += at(x, y);
      if (x < s - 1 && y < s - 1) {
        const c = at(x, y);
        if (c === at(x + 1, y) && c === at(x, y + 1) && c === at(x + 1, y + 1)) score += 3;
      }
    }
  }
  score += 10 * Math.floor(Math.abs((dark * 100) / (s * s) - 50) / 5);
  return score;
}

/// Data bits: byte mode indicator, length, the bytes, terminator, padding.
function dataCodewords(bytes, version, count) {
  const bits = [];
  const push = (value, n) => {
    for (let i = n - 1; i >= 0; i--) bits.push((value >> i) & 1);
  };
  push(0b0100, 4);
  push(bytes.length, version < 10 ? 8 : 16);
  bytes.forEach((b) => push(b, 8));
  push(0, Math.min(4, count * 8 - bits.length));
  push(0, (8 - (bits.length % 8)) % 8);
  const words = [];
  for (let i = 0; i < bits.length; i += 8) words.push(bits.slice(i, i + 8).reduce((v, b) => (v << 1) | b, 0));
  for (let pad = 0xec; words.length < count; pad ^= 0xec ^ 0x11) words.push(pad);
  return words;
}

/// Splits data into blocks, appends each block's ECC, interleaves them.
function interleave(data, version, raw) {
  const blocks = BLOCKS[version];
  const eccLen = ECC_PER_BLOCK[version];
  const shortBlocks = blocks - (raw % blocks);
  const shortLen = Math.floor(raw / blocks) - eccLen;
  const gen = generator(eccLen);
  const parts = [];
  for (let b = 0, at = 0; b < blocks; b++) {
    const len = shortLen + (b < shortBlocks ? 0 : 1);
    const chunk = data.slice(at, at + len);
    at += len;
    parts.push({ data: chunk, ecc: eccOf(chunk, gen) });
  }
  const out = [];
  for (let i = 0; i <= shortLen; i++) parts.forEach((p) => i < p.data.length && out.push(p.data[i]));
  for (let i = 0; i < eccLen; i++) parts.forEach((p) => out.push(p.ecc[i]));
  return out;
}

/// Encodes text (UTF-8) as a QR symbol: `{version, size, mask, dark}` where
/// `dark[y * size + x]` is 1 for a dark module. Throws when it cannot fit.
export function encodeQr(text) {
  const bytes = new TextEncoder().encode(text);
  for (let version = 1; version <= 40; version++) {
    const grid = new Grid(version);
    const raw = grid.capacityCodewords();
    const dataCount = raw - ECC_PER_BLOCK[version] * BLOCKS[version];
    const headerBits = 4 + (version < 10 ? 8 : 16);
    if (headerBits + bytes.length * 8 > dataCount * 8) continue;
    grid.placeCodewords(interleave(dataCodewords(bytes, version, dataCount), version, raw));
    let best = null;
    for (let mask = 0; mask < 8; mask++) {
      grid.applyMask(mask);
      grid.drawFormat(mask);
      const score = penalty(grid);
      if (best === null || score < best.score) best = { score, mask, dark: grid.dark.slice() };
      grid.applyMask(mask);
    }
    return { version, size: grid.size, mask: best.mask, dark: best.dark };
  }
  throw new Error(`${bytes.length} bytes do not fit in a QR code`);
}

/// Draws a symbol on a canvas: `scale` pixels per module and the standard's
/// four-module quiet zone, in crisp black on white.
export function drawQr(canvas, qr, scale) {
  const side = (qr.size + 8) * scale;
  canvas.width = side;
  canvas.height = side;
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, side, side);
  ctx.fillStyle = "#000";
  for (let y = 0; y < qr.size; y++) {
    for (let x = 0; x < qr.size; x++) {
      if (qr.dark[y * qr.size + x]) ctx.fillRect((x + 4) * scale, (y + 4) * scale, scale, scale);
    }
  }
}
