import { execFile } from 'node:child_process';

/** Runs a command to completion; the error names the command and carries its stderr. */
export function run(cmd: string, args: string[], opts: { input?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
      } else {
        resolve(stdout);
      }
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}
