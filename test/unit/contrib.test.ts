import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupTemps, tempDir } from '../helpers/tree.js';

afterEach(cleanupTemps);

const CONTRIB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../contrib');
const UNITS = ['foldersync.service', 'foldersync-once.service', 'foldersync.timer', 'foldersync-jobs.service'];

const has = (tool: string): boolean => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0;
const hasSystemdAnalyze = has('systemd-analyze');
const hasLogrotate = has('logrotate');
if (!hasSystemdAnalyze) console.warn('contrib: systemd-analyze is not installed here; the unit files are not verified');
if (!hasLogrotate) console.warn('contrib: logrotate is not installed here; contrib/foldersync.logrotate is not checked');

/** The units as shipped, copied to a temp folder; the node path is this node's when /usr/bin/node is missing. */
function unitCopies(): string[] {
  const d = tempDir('fs-units-');
  return UNITS.map((name) => {
    let text = readFileSync(path.join(CONTRIB, name), 'utf8');
    if (!existsSync('/usr/bin/node')) text = text.replaceAll('/usr/bin/node', process.execPath);
    const p = path.join(d, name);
    writeFileSync(p, text);
    return p;
  });
}

describe('contrib', () => {
  it.skipIf(!hasSystemdAnalyze)('the systemd units pass `systemd-analyze verify` without a single warning', () => {
    const r = spawnSync('systemd-analyze', ['verify', ...unitCopies()], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it.skipIf(!hasSystemdAnalyze)('the check can fail: a broken unit is reported', () => {
    const d = tempDir('fs-units-');
    const p = path.join(d, 'broken.service');
    writeFileSync(p, '[Service]\nType=simple\nExecStart=/usr/bin/env true\nRestartPreventExitStatus=2 banana\n');
    const r = spawnSync('systemd-analyze', ['verify', p], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toMatch(/banana/);
  });

  it('the daemon unit stops gracefully, keeps stdin empty, and does not restart on bad configuration', () => {
    const unit = readFileSync(path.join(CONTRIB, 'foldersync.service'), 'utf8');
    const exec = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? '';
    expect(exec).toMatch(/ --interval \S+/);
    expect(exec).toMatch(/ --log-dir \S+/);
    expect(exec).not.toMatch(/--once/);
    expect(unit).toMatch(/^Type=simple$/m);
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
    expect(unit).toMatch(/^StandardInput=null$/m);
    expect(unit).toMatch(/^Restart=on-failure$/m);
    expect(unit).toMatch(/^RestartPreventExitStatus=2$/m);
    expect(unit).toMatch(/^ExecReload=.*kill -HUP \$MAINPID$/m);
    const once = readFileSync(path.join(CONTRIB, 'foldersync-once.service'), 'utf8');
    expect(/^ExecStart=(.*)$/m.exec(once)?.[1]).toMatch(/ --once( |$)/);
    expect(readFileSync(path.join(CONTRIB, 'foldersync.timer'), 'utf8')).toMatch(/^Unit=foldersync-once\.service$/m);
  });

  it('the config-file daemon unit runs --config, reloads it on SIGHUP, and does not restart on a bad file', () => {
    const unit = readFileSync(path.join(CONTRIB, 'foldersync-jobs.service'), 'utf8');
    const exec = /^ExecStart=(.*)$/m.exec(unit)?.[1] ?? '';
    expect(exec).toMatch(/ --config \/\S+\.yaml( |$)/);
    expect(exec).toMatch(/ --status-file \S+\.prom( |$)/);
    expect(exec).not.toMatch(/ (--once|-s|--source|-r|--replica)( |$)/);
    expect(unit).toMatch(/^Type=simple$/m);
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
    expect(unit).toMatch(/^StandardInput=null$/m);
    expect(unit).toMatch(/^Restart=on-failure$/m);
    expect(unit).toMatch(/^RestartPreventExitStatus=2$/m);
    expect(unit).toMatch(/^ExecReload=.*kill -HUP \$MAINPID$/m);
    // The control socket's folder: created by systemd, owner-only, where ctl looks for it.
    expect(unit).toMatch(/^RuntimeDirectory=foldersync$/m);
    expect(unit).toMatch(/^RuntimeDirectoryMode=0700$/m);
    expect(unit).toMatch(/^Environment=.*XDG_RUNTIME_DIR=\/run( |$)/m);
  });

  it('the logrotate snippet renames and signals (no copytruncate)', () => {
    const conf = readFileSync(path.join(CONTRIB, 'foldersync.logrotate'), 'utf8');
    expect(conf).not.toMatch(/^\s*copytruncate/m);
    expect(conf).toMatch(/postrotate[\s\S]*systemctl reload foldersync\.service[\s\S]*endscript/);
    if (!hasLogrotate) return;
    // A forced rotation of a copy whose paths point into a temp folder and whose postrotate
    // leaves a mark instead of signalling the service.
    const d = tempDir('fs-logrotate-');
    const logs = path.join(d, 'log');
    mkdirSync(logs);
    writeFileSync(path.join(logs, 'foldersync.log'), '{"msg":"pass complete"}\n');
    const mark = path.join(d, 'reloaded');
    writeFileSync(path.join(d, 'conf'), conf.replaceAll('/var/log/foldersync', logs).replace('systemctl reload foldersync.service', `touch ${mark}`));
    const r = spawnSync('logrotate', ['-f', '-s', path.join(d, 'state'), path.join(d, 'conf')], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/error/i);
    expect(readdirSync(logs)).toEqual(['foldersync.log.1']); // renamed, not copied; the daemon creates the new one
    expect(existsSync(mark)).toBe(true);
  });
});
