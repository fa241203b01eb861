/**
 * `@gatehouse/protocol`: the protocol facts every Gatehouse party shares (authorization server,
 * resource-server toolkit, client SDK, examples). One module, one argument order `(urnNamespace, …)`,
 * one wording of each scope.
 */
export { constantTimeEqual, secretsEqual } from './constant-time.ts';
export { isLoopbackHostname, isLoopbackHttpUrl, LOOPBACK_HOSTNAMES } from './loopback.ts';
export { describeScope, formatScope, isScopeName, parseScope, SCOPE_CATALOGUE, splitScope } from './scope.ts';
export {
  DEFAULT_URN_NAMESPACE,
  formatSubjectUrn,
  isUrnNamespace,
  parseSubjectUrn,
  subjectParameterName,
  subjectUrnMemberName,
} from './subject-urn.ts';
export type { SubjectType } from './subject-urn.ts';
export { isUuid, UUID_PATTERN } from './uuid.ts';
