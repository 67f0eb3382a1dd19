import type { CocoonConfig } from '../config/types.js';
import { imageEntry, isMachineRecord, type RenderTarget } from './context.js';
import { ipxearg } from './filters.js';
import { bootBaseUrl, machineUrls } from './urls.js';

/** Longest render error shown on the machine's console. */
const MAX_REASON = 300;

/**
 * Text iPXE prints as it is: one line, no control characters and no `${` (iPXE would expand it).
 */
export function ipxeEchoText(text: string): string {
  // eslint-disable-next-line no-control-regex
  const one = text.replace(/[\x00-\x1f\x7f]+/g, ' ').replace(/\$\{/g, '$ {').trim();
  return one.length > MAX_REASON ? `${one.slice(0, MAX_REASON - 3)}...` : one;
}

function safeArg(value: string): string | undefined {
  try {
    return ipxearg(value);
  } catch {
    return undefined;
  }
}

/**
 * The per-machine iPXE script for a machine whose own script could not be rendered (a broken
 * profile, template or image reference). It is built here, not from a template, because the
 * templates may be what is broken: the rescue image when one is configured (its arguments
 * verbatim, never templated), else the reason on the console and a retry loop, so the machine
 * picks up the fixed config on its own.
 */
export function failsafeIpxe(config: CocoonConfig, target: RenderTarget, reason: string, baseUrl?: string): string {
  const serial = isMachineRecord(target) ? target.Serial : target.serial;
  const urls = machineUrls(baseUrl ?? bootBaseUrl(config), serial);
  const retry = Number.isInteger(config.templates_env['ipxe_retry_seconds']) ? (config.templates_env['ipxe_retry_seconds'] as number) : 30;
  const shownSerial = ipxeEchoText(serial) || '(unknown)';
  const lines = [
    '#!ipxe',
    `# Cocoon: failsafe for ${shownSerial}: its own boot script could not be rendered`,
    `echo Cocoon: FAILSAFE for ${shownSerial}: the boot script could not be rendered`,
    `echo Cocoon: ${ipxeEchoText(reason)}`,
  ];
  const rescue = config.rescue ? imageEntry(urls, config.rescue) : undefined;
  const kernel = rescue ? safeArg(rescue.kernel.url) : undefined;
  const initrds = rescue?.initrds.map((i) => ({ name: safeArg(i.name), url: safeArg(i.url) })) ?? [];
  // Template syntax in the rescue arguments is left out rather than rendered: no template runs here.
  const args = (config.rescue?.args ?? '')
    .split(/\s+/)
    .filter((a) => a !== '' && !/[{}%]/.test(a) && safeArg(a) !== undefined);
  if (rescue && kernel && initrds.every((i) => i.name && i.url)) {
    const cmdline = [`cocoon.server=${urls.boot}`, `cocoon.serial=${serial}`, 'cocoon.failsafe=1', ...args].filter((a) => safeArg(a) !== undefined);
    lines.push(
      'echo Cocoon: booting the rescue image instead',
      `kernel ${kernel}${initrds.map((i) => ` initrd=${i.name}`).join('')} ${cmdline.join(' ')} || goto failed`,
      ...initrds.map((i) => `initrd --name ${i.name} ${i.url} || goto failed`),
      'boot || goto failed',
    );
  } else {
    lines.push(`echo Cocoon: no rescue image is configured; fix the config, this machine asks again every ${retry} seconds`, 'goto failed');
  }
  lines.push(
    '',
    ':failed',
    `echo Cocoon: asking ${urls.boot} again in ${retry} seconds`,
    `sleep ${retry}`,
    `chain --autofree ${urls.ipxe} || goto failed`,
    '',
  );
  return lines.join('\n');
}
