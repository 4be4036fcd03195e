/** A configuration the sidecar cannot start with; the message names the setting and its source. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
