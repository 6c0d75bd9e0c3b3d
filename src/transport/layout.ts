/**
 * The shared-memory layout between the native reactor and JavaScript.
 * Mirrors native/server/layout.h; change both together.
 */
export const C_EVENTS = 0;
export const C_OUT_RECORDS = 1;
export const C_OUT_USED = 2;
export const C_DETACH = 3;
export const C_NOW_SEC = 4;
export const C_IN_BATCH = 5;
export const C_SLAB_USED = 6;
export const C_CONNECTIONS = 8;
export const C_ACCEPTED = 9;
export const C_REQUESTS = 10;
export const C_PARSE_ERRORS = 11;
export const C_TIMEOUTS = 12;
export const C_READ_PAUSED = 13;
export const C_BUFFERED_BYTES = 14;
export const C_ACCEPT_PAUSED = 15;
export const C_OVER_BUDGET = 16;
export const CONTROL_SIZE = 32;

export const EV_REQUEST = 1;
export const EV_BODY = 2;
export const EV_CLOSE = 3;
export const EV_DRAIN = 4;

export const E_TYPE = 0;
export const E_SLOT = 1;
export const E_GEN = 2;
export const E_SEQ = 3;
export const E_HEAD_OFF = 4;
export const E_HEAD_LEN = 5;
export const E_METHOD = 6;
export const E_TARGET_OFF = 7;
export const E_TARGET_LEN = 8;
export const E_PATH_LEN = 9;
export const E_HEADER_INDEX = 10;
export const E_HEADER_COUNT = 11;
export const E_BODY_OFF = 12;
export const E_BODY_LEN = 13;
export const E_FLAGS = 14;
export const E_LENGTH_LO = 15;
export const E_LENGTH_HI = 16;
export const E_READ_US = 17;
export const EVENT_STRIDE = 20;

export const F_KEEP_ALIVE = 1 << 0;
export const F_EXPECT_CONTINUE = 1 << 1;
export const F_UPGRADE = 1 << 2;
export const F_CHUNKED = 1 << 3;
export const F_BODY_END = 1 << 4;
export const F_HAS_BODY = 1 << 5;
export const F_CONN_CLOSE = 1 << 6;
export const F_BODY_ERROR = 1 << 7;
export const F_TARGET_FORM_SHIFT = 8;

/** JavaScript gives the reactor a fresh body slab after a batch that left less room than this. */
export const SLAB_MIN_ROOM = 65536;

export const HEADER_STRIDE = 4;

export const R_SLOT = 0;
export const R_GEN = 1;
export const R_SEQ = 2;
export const R_OFF = 3;
export const R_LEN = 4;
export const R_FLAGS = 5;
export const RECORD_STRIDE = 8;

export const REC_END = 1;
export const REC_CLOSE = 2;
