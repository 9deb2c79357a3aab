// Owns writing an imported config as sluice.yaml text, with what did not carry over as comments an operator reads first.
import { Document } from 'yaml';
import type { ImportResult } from './import-pgbouncer.js';

export interface YamlWriteOptions {
  /** The pgbouncer.ini the config came from, named in the header. */
  readonly source: string;
}

/** Comment lines must not be broken by a newline inside a reason or a setting name. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}

function headerOf(result: ImportResult, opts: YamlWriteOptions): string {
  const lines = [
    ` Imported from ${oneLine(opts.source)} by sluice import. Durations are in seconds.`,
    ' See docs/migrating-from-pgbouncer.md for how Sluice behaves differently.',
  ];
  if (result.unsupported.length > 0) {
    lines.push('', ' Not carried over:');
    for (const issue of result.unsupported) lines.push(`   ${oneLine(issue.setting)}: ${oneLine(issue.reason)}`);
  }
  if (result.notes.length > 0) {
    lines.push('', ' Carried over with a difference:');
    for (const issue of result.notes) lines.push(`   ${oneLine(issue.setting)}: ${oneLine(issue.reason)}`);
  }
  return lines.join('\n');
}

/** The YAML text of an import: the header comment, then the settings. Strings that could read as numbers are quoted. */
export function importToYaml(result: ImportResult, opts: YamlWriteOptions): string {
  const doc = new Document(result.config);
  doc.commentBefore = headerOf(result, opts);
  const tenants = doc.get('tenants', true);
  if (tenants !== undefined && tenants !== null && typeof tenants === 'object') {
    (tenants as { commentBefore?: string }).commentBefore =
      ' One tenant per user, limited by its max_user_connections (see docs/isolation.md)';
  }
  return doc.toString({ lineWidth: 0 });
}
