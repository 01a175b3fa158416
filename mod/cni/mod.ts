/** The CNI protocol: environment, config, results, errors, the dispatcher and delegate exec. */
export { CniError, ErrorCode, mapErrors, toCniError } from "./errors.ts";
export {
  checkIfname,
  checkNetnsPath,
  type CniEnv,
  cniVariables,
  envVar,
  invokedBy,
  KNOWN_ARGS,
  parseCniArgs,
  readEnv,
} from "./env.ts";
export {
  DEFAULT_GC_GRACE_SECONDS,
  type GcGrace,
  gcGrace,
  type ValidAttachment,
  validAttachments,
} from "./gc.ts";
export { execPlugin, type ExecRequest, findPlugin, supportedVersions } from "./exec.ts";
export { configureLog, log, type LogLevel } from "./log.ts";
export { checkNoExecLoop } from "./nesting.ts";
export {
  appendResult,
  convertResult,
  criResultProblem,
  type Dns,
  type Interface,
  type IpConfig,
  parseResult,
  type Result,
  type Route,
  toVersion,
} from "./result.ts";
export {
  configError,
  type Invocation,
  invoke,
  type NetConf,
  type Outcome,
  type Plugin,
  pluginMain,
} from "./skel.ts";
export { readStdin } from "./stdin.ts";
export {
  compareVersions,
  configVersion,
  CURRENT_VERSION,
  isSupportedVersion,
  SUPPORTED_VERSIONS,
  UNVERSIONED,
  versionInfo,
} from "./version.ts";
