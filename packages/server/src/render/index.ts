export { RenderError, type RenderErrorDetails } from './errors.js';
export {
  createRenderer,
  selfTest,
  ipxeFlow,
  Renderer,
  IPXE_TEMPLATES,
  FIRST_STAGE_TEMPLATE,
  FIRST_STAGE_IGNITION_TEMPLATE,
  IGNITION_CONTENT_TYPE,
  CLOUD_CONFIG_CONTENT_TYPE,
  type IpxeFlow,
  type RenderedConfig,
  type RendererOptions,
} from './renderer.js';
export {
  DEFAULT_INSTALL_FILES,
  type InstallFiles,
  type MachineIdentity,
  type RenderContext,
  type RenderRequest,
  type RenderTarget,
  type ResolvedOs,
} from './context.js';
export { bootBaseUrl, imagePath, machineUrls, machineUrlsFor, type MachineUrls } from './urls.js';
export { mergeTemplatesEnv } from './templates-env.js';
export { installFilesFor } from './install-files.js';
export { BUILTIN_TEMPLATES_DIR } from './environment.js';
export { IGNITION_SCHEMAS, IGNITION_SCHEMA_DIR, ignitionFromYaml } from './ignition.js';
export { sampleMachine, runSelfTest, SELF_TEST_SERIAL, type SelfTestReport } from './self-test.js';
export { failsafeIpxe } from './failsafe.js';
