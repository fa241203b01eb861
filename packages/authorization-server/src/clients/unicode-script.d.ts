/**
 * Types for the parts of `unicode-script` (Unicode 17 scripts and UTS #39 mixed-script detection)
 * that Gatehouse uses; the package ships JavaScript only.
 */
declare module 'unicode-script' {
  /** UTS #39 §5.1: true when the resolved script set of `text` is empty (Common and Inherited count as every script). */
  export function isMixedScript(text: string): boolean;
  /** The resolved script set of `text`: ISO 15924 codes, including the augmented Hanb, Jpan and Kore. */
  export function unicodeResolvedScriptCodes(text: string): Set<string>;
}
