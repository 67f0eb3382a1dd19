export { createDnsmasqService, type DnsmasqService, type DnsmasqServiceOptions, type DnsmasqStatus } from './service.js';
export { dnsmasqPaths, type DnsmasqPaths } from './paths.js';
export { renderDnsmasqConfig, dnsmasqTemplateContext, BUILTIN_DNSMASQ_TEMPLATE, type BootFiles, type DnsmasqTemplateContext } from './render-config.js';
export { testDnsmasqConfig } from './validate.js';
export { prepareTftpRoot, DEBIAN_IPXE_DIR } from './tftp-root.js';
export { HostsDir, hostLine } from './hosts-dir.js';
export { DnsmasqSupervisor, type ExitInfo, type SupervisorStatus } from './supervisor.js';
export { DnsmasqLogParser } from './log-parser.js';
export { LineSplitter } from './line-splitter.js';
