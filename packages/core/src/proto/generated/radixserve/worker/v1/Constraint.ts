// Original file: protos/radixserve/worker/v1/worker.proto


/**
 * A grammar the output must match in full.
 */
export interface Constraint {
  /**
   * "json_schema" (source: the schema as JSON text), "regex", "lark"
   */
  'kind'?: (string);
  'source'?: (string);
}

/**
 * A grammar the output must match in full.
 */
export interface Constraint__Output {
  /**
   * "json_schema" (source: the schema as JSON text), "regex", "lark"
   */
  'kind': (string);
  'source': (string);
}
