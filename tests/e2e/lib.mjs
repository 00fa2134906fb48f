// lib.mjs - browser tests drive the real server binary and Debian's chromium
// (playwright-core with executablePath; no browser is ever downloaded).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from '../../web/node_modules/playwright-core/index.mjs';

export const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
export const bin = process.env.HUDONG_BIN || path.join(root, 'build/asan/hudong');
export const shots = path.join(root, 'build/screenshots');
mkdirSync(shots, { recursive: true });

export const PASSWORD = 'correct horse battery';

// Starts `hudong serve` on a fresh SQLite store with the test clock, the web
// directory, and (optionally) demo data. Returns { url, db, cli(args), stop() }.
export async function startServer({ demo = false } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'hudong-e2e-'));
  const db = path.join(dir, 'e2e.db');
  const cli = (args, input) => execFileSync(bin, [...args, '--db', db], { input, encoding: 'utf8' });
  if (demo) cli(['demo', '--customers', '300']);
  const args = ['serve', '--db', db, '--listen', '127.0.0.1:0', '--test-clock', '--web', path.join(root, 'web'), '--log-level', 'warn'];
  const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start: ' + log)), 30000);
    proc.stderr.on('data', (d) => {
      log += d;
      const m = /serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    proc.on('exit', (code) => reject(new Error(`server exited ${code}: ${log}`)));
  });
  return {
    url, db, cli,
    addUser(email, role) { cli(['user', 'add', '--email', email, '--role', role], PASSWORD + '\n'); },
    apiKey() { return cli(['apikey', 'create', '--name', 'e2e']).trim().split('\n').pop(); },
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.on('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launch() {
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  if (!existsSync(executablePath)) throw new Error(`no browser at ${executablePath}: apt-get install chromium`);
  return chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

export async function signIn(page, url, email) {
  await page.goto(url + '/');
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
}
