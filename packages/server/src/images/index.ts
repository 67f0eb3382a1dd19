export { addImage, listImages, verifyImage, type AddImageOptions, type ImageSummary, type VerifyResult } from './catalog.js';
export { parseDigests } from './digests.js';
export { FLATCAR_FILES, FLATCAR_MIN_DISK_BYTES, defaultFlatcarBaseUrl, fetchFlatcar, type FetchFlatcarOptions, type FetchFlatcarResult, type FetchProgress } from './fetch-flatcar.js';
export { MANIFEST, MAYU_FILES, versionDir } from './layout.js';
export { readManifest, writeManifest, type ImageManifest, type ManifestFile } from './manifest.js';
export { installImageFor, osFor, resolveImageFile, type InstallImage, type MachineOsFields, type ResolvedImageFile } from './resolve.js';
