package entrycodec

import "errors"

// ErrCorrupt is wrapped by every decoding failure: truncated or malformed
// data, an unknown version or flag, or bytes left over.
var ErrCorrupt = errors.New("entrycodec: corrupt encoding")
