// How an answer is written: the settings a client may choose for it.

const flag = /^(0|1|true|false)$/;

/**
 * Settings a client may give for how an answer is written, and the values they may take. Every
 * conversion sets all of them (to the client's value or the session's default), since chDB keeps
 * a session's settings from one call to the next.
 */
export const OUTPUT_SETTINGS: Readonly<Record<string, RegExp>> = {
  output_format_json_quote_64bit_integers: flag,
  output_format_json_quote_64bit_floats: flag,
  output_format_json_quote_decimals: flag,
  output_format_json_quote_denormals: flag,
  output_format_json_named_tuples_as_objects: flag,
  output_format_decimal_trailing_zeros: flag,
  output_format_csv_crlf_end_of_line: flag,
  output_format_tsv_crlf_end_of_line: flag,
  output_format_arrow_string_as_string: flag,
  output_format_parquet_string_as_string: flag,
  date_time_output_format: /^(simple|iso|unix_timestamp)$/,
  format_csv_delimiter: /^[,;\t|]$/,
  output_format_pretty_max_rows: /^\d{1,9}$/,
};

/** Limits a client may lower for its own statement; ours cap them (0 asks for no limit: ours). */
export const LIMIT_SETTINGS = {
  max_execution_time: /^\d+(\.\d+)?$/,
  max_result_rows: /^\d{1,15}$/,
  max_result_bytes: /^\d{1,15}$/,
  result_overflow_mode: /^(throw|break)$/,
} as const satisfies Record<string, RegExp>;

/**
 * Settings clients send routinely that change nothing here: the engine is read-only and its
 * sessions' limits and threads stand, answers are whole (wait_end_of_query), timestamps are UTC.
 */
export const ACCEPTED_SETTINGS: Readonly<Record<string, RegExp>> = {
  readonly: /^[12]$/,
  max_threads: /^\d{1,4}$/,
  max_block_size: /^\d{1,12}$/,
  wait_end_of_query: flag,
  send_progress_in_http_headers: flag,
  http_headers_progress_interval_ms: /^\d{1,9}$/,
  enable_http_compression: flag,
  http_zlib_compression_level: /^\d$/,
  extremes: flag,
  session_timezone: /^(UTC|Etc\/UTC|)$/,
  log_comment: /^[\x20-\x7e]{0,200}$/,
};

export interface ClientSettings {
  /** Seconds, rows, bytes a client asked for; undefined: the server's. */
  timeoutSeconds?: number;
  maxRows?: number;
  maxBytes?: number;
  /** Whether an answer past its row or byte limit is an error rather than cut. */
  overflowThrows: boolean;
  output: Record<string, string>;
}

export const CLIENT_SETTING_NAMES = [
  ...Object.keys(OUTPUT_SETTINGS),
  ...Object.keys(LIMIT_SETTINGS),
  ...Object.keys(ACCEPTED_SETTINGS),
];

/**
 * What a client's settings (URL parameters or a SETTINGS clause) mean here; a setting not named
 * above, or a value outside its pattern, is refused by `refuse(name, reason)`.
 */
export function clientSettings(
  settings: Iterable<[string, string]>,
  refuse: (name: string, reason: string) => Error,
): ClientSettings {
  const out: ClientSettings = { overflowThrows: false, output: {} };
  const positive = (value: string) => (Number(value) > 0 ? Number(value) : undefined);
  for (const [name, value] of settings) {
    const pattern =
      OUTPUT_SETTINGS[name] ?? LIMIT_SETTINGS[name as keyof typeof LIMIT_SETTINGS] ?? ACCEPTED_SETTINGS[name];
    if (pattern === undefined) throw refuse(name, 'it cannot be changed through this interface');
    if (!pattern.test(value)) throw refuse(name, `${JSON.stringify(value)} is not a value it takes here`);
    if (name in OUTPUT_SETTINGS) out.output[name] = value;
    else if (name === 'max_execution_time') out.timeoutSeconds = positive(value);
    else if (name === 'max_result_rows') out.maxRows = positive(value);
    else if (name === 'max_result_bytes') out.maxBytes = positive(value);
    else if (name === 'result_overflow_mode') out.overflowThrows = value === 'throw';
  }
  return out;
}
