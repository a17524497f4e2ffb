/** Where the CLI writes, and what kind of terminal it writes to. Injected, so tests can swap it. */
export interface Io {
  stdout: Pick<NodeJS.WriteStream, 'write'> & { isTTY?: boolean; columns?: number };
  stderr: Pick<NodeJS.WriteStream, 'write'> & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

/**
 * Colour for stdout: on a TTY only, never with `NO_COLOR` set (https://no-color.org: any non-empty
 * value); `FORCE_COLOR` (non-empty, not `0`) turns it on off a TTY, and still loses to `NO_COLOR`.
 */
export function colourOn(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') {
    return false;
  }
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') {
    return true;
  }
  return stream.isTTY === true;
}

const codes = { red: 31, green: 32, yellow: 33, blue: 34, dim: 2, bold: 1 } as const;
export type Colour = keyof typeof codes;

export interface Style {
  readonly on: boolean;
  paint(text: string, colour: Colour): string;
  /** A status word in the colour of its meaning (healthy green, degraded yellow, unhealthy red …). */
  status(word: string): string;
}

const statusColours: Record<string, Colour> = {
  healthy: 'green',
  active: 'green',
  ok: 'green',
  pass: 'green',
  compliant: 'green',
  completed: 'green',
  verified: 'green',
  true: 'green',
  resolved: 'green',
  degraded: 'yellow',
  partial: 'yellow',
  inactive: 'yellow',
  warn: 'yellow',
  P2: 'yellow',
  acknowledged: 'yellow',
  queued: 'blue',
  running: 'blue',
  unhealthy: 'red',
  disabled: 'red',
  emergency: 'red',
  fail: 'red',
  failed: 'red',
  violation: 'red',
  firing: 'red',
  false: 'red',
  P0: 'red',
  P1: 'red',
  critical: 'red',
};

export function styleFor(on: boolean): Style {
  const paint = (text: string, colour: Colour) => (on ? `\u001b[${codes[colour]}m${text}\u001b[0m` : text);
  return {
    on,
    paint,
    status: (word) => {
      const colour = statusColours[word];
      return colour ? paint(word, colour) : word;
    },
  };
}

// eslint-disable-next-line no-control-regex
const ansi = /\u001b\[[0-9;]*m/g;
const visibleLength = (text: string) => text.replace(ansi, '').length;

export type Cell = string | number | boolean | null | undefined;

/** A cell as text: null and undefined as `-`, numbers as they are. */
export function cellText(value: Cell): string {
  if (value === null || value === undefined || value === '') {
    return '-';
  }
  return String(value);
}

/** Rows as an aligned table with a header; cells may carry colour (their visible width counts). */
export function table(headers: string[], rows: Cell[][], style: Style): string {
  const texts = rows.map((row) => row.map(cellText));
  const widths = headers.map((h, i) => Math.max(h.length, ...texts.map((row) => visibleLength(row[i] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat((widths[i] ?? 0) - visibleLength(cell))))
      .join('  ')
      .trimEnd();
  const head = line(headers.map((h) => h.toUpperCase()));
  return [style.on ? style.paint(head, 'bold') : head, ...texts.map(line)].join('\n') + '\n';
}

/** Label and value pairs, the labels aligned. */
export function fields(pairs: [string, Cell][]): string {
  const width = Math.max(0, ...pairs.map(([label]) => label.length));
  return pairs.map(([label, value]) => `${label.padEnd(width)}  ${cellText(value)}`).join('\n') + '\n';
}

/** A duration in ms for people. */
export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) {
    return '-';
  }
  return value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;
}

/** A ratio 0-1 as a percentage. */
export function pct(value: number | null | undefined): string {
  return value === null || value === undefined ? '-' : `${(value * 100).toFixed(1)} %`;
}

/**
 * A progress bar on stderr while a job runs, drawn only when stderr is a TTY (redrawn in place
 * with a carriage return); elsewhere it writes nothing, so logs and pipes stay clean.
 */
export interface Progress {
  update(percent: number, state: string): void;
  done(): void;
}

export function progressBar(label: string, io: Io, width = 30): Progress {
  if (io.stderr.isTTY !== true) {
    return { update: () => undefined, done: () => undefined };
  }
  const frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
  let tick = 0;
  let drawn = false;
  return {
    update(percent, state) {
      const p = Math.max(0, Math.min(100, Math.round(percent)));
      const full = Math.round((p / 100) * width);
      const frame = frames[tick++ % frames.length] ?? '';
      io.stderr.write(`\r${frame} ${label} [${'█'.repeat(full)}${'░'.repeat(width - full)}] ${String(p).padStart(3)} % ${state}\u001b[K`);
      drawn = true;
    },
    done() {
      if (drawn) {
        io.stderr.write('\r\u001b[K');
      }
    },
  };
}
