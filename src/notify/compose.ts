import { describeCounts, describeReport } from '../sync/report.js';
import type { Digest } from './digest.js';
import type { JobInfo } from './summary.js';

/** A mail's content: subject, plain text and a simple HTML alternative. */
export interface MailContent {
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** Writes the mail for a digest of one job's passes (pure). */
export function composeMail(job: JobInfo, d: Digest): MailContent {
  const t = d.totals;
  const passes = t.passes === 1 ? '' : ` in ${t.passes} passes`;
  const subject = `foldersync ${job.job}: ${d.outcome}${passes} (${describeCounts(t)})`;
  const first = d.passes[0]?.summary.time;
  const last = d.passes.at(-1)?.summary.time;
  const when = first === undefined || last === undefined ? '' : first === last ? iso(first) : `${iso(first)} to ${iso(last)}`;

  const head = [`Job ${job.job}: ${job.source} -> ${job.replica}`, `Outcome: ${d.outcome}${passes}, ${when}`, `Counts: ${describeCounts(t)}`];
  const changes = listed('Changes', d.lines.changes, d.lines.moreChanges);
  const errors = listed('Errors', d.lines.errors, d.lines.moreErrors);
  const passLines = d.passes.map((n) => `${iso(n.summary.time)}  ${describeReport(n.summary)}${n.reason ? ` (${n.reason})` : ''}`);
  if (d.morePasses > 0) passLines.push(`... and ${d.morePasses} more passes`);
  const summaries = d.passes.map((n) => JSON.stringify(n.summary));

  const sections: [string, string[]][] = [
    ['Passes', passLines],
    ...(errors ? [errors] : []),
    ...(changes ? [changes] : []),
    ['Summary', summaries],
  ];
  const text = [...head, '', ...sections.flatMap(([title, lines]) => [`${title}:`, ...lines.map((l) => `  ${l}`), ''])].join('\n');
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif">',
    `<h2>${esc(subject)}</h2>`,
    `<p>${head.map(esc).join('<br>')}</p>`,
    ...sections.map(([title, lines]) => `<h3>${esc(title)}</h3><pre>${lines.map(esc).join('\n')}</pre>`),
    '</body></html>',
  ].join('\n');
  return { subject, text, html };
}

/** A section listing lines, with how many more there were; null when there is nothing to list. */
function listed(title: string, lines: readonly string[], more: number): [string, string[]] | null {
  const n = lines.length + more;
  if (n === 0) return null;
  // Change lines are single lines; a name with a newline must not break the list.
  const shown = lines.map((l) => l.replace(/\n/g, '\\n'));
  if (more > 0) shown.push(`... and ${more} more`);
  return [`${title} (${n})`, shown];
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function esc(s: string): string {
  return s.replace(/[&<>"]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;'));
}
