/** Public API of @cocoon/server for the other packages (CLI, e2e, benchmarks). */
export * from './config/index.js';
export * from './store/types.js';
export { openClusterStore, ClusterStore, commitMessage, type ClusterStoreOptions, type StoreLogger } from './store/cluster-store.js';
export { GitAudit, blobOid, type FileChange, type GitAuthor } from './store/git-audit.js';
export { ZERO_TIME, emptyRecord, editableRecord, normalizeRecord, serializeRecord, isStorableSerial } from './store/record.js';
export * from './lifecycle/states.js';
export { Provisioner, OPERATOR_PATCH_FIELDS, type OperatorPatch, type OperatorAudit } from './lifecycle/provisioner.js';
export { validateEnrollmentReport, primaryMac, type EnrollmentReport } from './lifecycle/enrollment-report.js';
export type { EventSink, EventTarget, LifecycleEvent } from './lifecycle/events.js';
export { resolveIdentity, isJunkSerial, isJunkUuid, isValidIdentity, macIdentity, type Identity, type IdentityCandidates } from './lifecycle/identity.js';
export { IpAllocator } from './lifecycle/ip-allocator.js';
export { ProfileQuota, DEFAULT_PROFILE } from './lifecycle/profile-quota.js';
export { newMachineId, hostnameFromMachineId, isMachineId, isValidHostname } from './lifecycle/machine-id.js';
export { CocoonError, type ErrorKind } from './util/errors.js';
export { atomicWriteFile, fsyncDir } from './util/atomic-write.js';
export { createRenderer, selfTest as renderSelfTest, Renderer, RenderError, machineUrls, machineUrlsFor, bootBaseUrl, BUILTIN_TEMPLATES_DIR, type MachineUrls, type RenderedConfig, type RenderRequest, type RenderTarget } from './render/index.js';
