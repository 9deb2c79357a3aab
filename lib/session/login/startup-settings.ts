// A startup packet's settings for Postgres: its parameters and the `-c name=value` switches of its `options`, minus what Sluice handles itself or is told to ignore.

/** Startup parameters that are not settings: Sluice reads them itself. */
const NOT_SETTINGS = new Set(['user', 'database', 'replication', 'options']);

export interface StartupSettings {
  /** What the client's sessions apply, by lower-case name. */
  settings: Map<string, string>;
  /** `sluice.*` settings (how a client names its tenant), by name as given. */
  tags: Map<string, string>;
}

/** A startup packet Sluice cannot serve: the offending part, for SLUICE_BAD_STARTUP_PARAMETER. */
export interface StartupRefusal {
  name: string;
}

/**
 * Splits a startup packet into settings and tags. A later `options` switch wins over the parameter of the
 * same name, as in Postgres. Names in `ignore` are dropped; `options` there drops every setting of the
 * options string (its tags stay).
 */
export function startupSettings(params: ReadonlyMap<string, string>, ignore: readonly string[]): StartupSettings | StartupRefusal {
  const settings = new Map<string, string>();
  const tags = new Map<string, string>();
  const add = (name: string, value: string): void => {
    const key = name.toLowerCase();
    if (key.startsWith('sluice.')) tags.set(name, value);
    else if (!ignore.includes(key)) settings.set(key, value);
  };
  for (const [name, value] of params) if (!NOT_SETTINGS.has(name) && !name.startsWith('_pq_.')) add(name, value);
  const options = params.get('options');
  if (options === undefined) return { settings, tags };
  const switches = optionSettings(options);
  if ('name' in switches) return ignore.includes('options') ? { settings, tags } : switches;
  for (const [name, value] of switches) {
    if (ignore.includes('options') && !name.toLowerCase().startsWith('sluice.')) continue;
    add(name, value);
  }
  return { settings, tags };
}

/**
 * The settings of an `options` string, in order: `-c name=value`, `-cname=value` and `--name=value`, where a
 * `-` in the name means `_` (as Postgres reads them). Words are split at spaces; a backslash makes the next
 * character literal (pg_split_opts). Other command-line switches are refused: they are not settings.
 */
export function optionSettings(options: string): Array<[string, string]> | StartupRefusal {
  const words = splitOptions(options);
  const out: Array<[string, string]> = [];
  for (let i = 0; i < words.length; i++) {
    const given = words[i];
    let w = given;
    if (w === '-c') w = words[++i] ?? '';
    else if (w.startsWith('-c')) w = w.slice(2);
    else if (w.startsWith('--')) w = w.slice(2);
    else return { name: `options switch ${w}` };
    const eq = w.indexOf('=');
    if (eq < 1) return { name: `options switch ${w || given} (expected name=value)` };
    out.push([w.slice(0, eq).replace(/-/g, '_'), w.slice(eq + 1)]);
  }
  return out;
}

function splitOptions(options: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < options.length; i++) {
    const c = options[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      if (c === '\\' && i + 1 < options.length) word += options[++i];
      else word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}
