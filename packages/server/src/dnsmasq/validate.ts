import { execa } from 'execa';
import { CocoonError } from '../util/errors.js';

/**
 * `dnsmasq --test --conf-file=FILE`: resolves when dnsmasq accepts the file; otherwise throws
 * `CocoonError` kind `invalid` (field `dnsmasq.template`) carrying dnsmasq's own message, e.g.
 * "bad option at line 42 of …". It checks syntax only (not that interfaces or directories exist).
 */
export async function testDnsmasqConfig(binary: string, file: string): Promise<void> {
  let result;
  try {
    result = await execa(binary, ['--test', `--conf-file=${file}`], { reject: false, timeout: 15_000, stdin: 'ignore', all: true });
  } catch (err) {
    throw new CocoonError('unavailable', `cannot run ${binary} --test: ${String(err)}`, 'dnsmasq.binary', { cause: err });
  }
  if (result.failed && result.exitCode === undefined) {
    const reason = result.timedOut ? 'timed out' : ((result as { code?: string }).code ?? result.shortMessage ?? 'failed to start');
    throw new CocoonError('unavailable', `cannot run ${binary} --test: ${reason}`, 'dnsmasq.binary');
  }
  if (result.exitCode !== 0) {
    const output = String(result.all ?? '').trim().replace(/^dnsmasq: /gm, '');
    throw new CocoonError('invalid', `dnsmasq refused the configuration: ${output || `exit code ${result.exitCode}`}`, 'dnsmasq.template');
  }
}
