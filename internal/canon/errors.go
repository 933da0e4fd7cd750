package canon

import (
	"errors"
	"fmt"
)

// ErrInvalid is wrapped by every error for input that cannot be
// canonicalised: malformed JSON, a JSON document that is not I-JSON, a broken
// form or multipart body, a malformed JSON Pointer. Test with errors.Is.
var ErrInvalid = errors.New("canon: input cannot be canonicalised")

// invalidAt returns an ErrInvalid error naming the byte offset of the problem.
// Input bytes are never copied into the message: bodies may hold secrets.
func invalidAt(offset int, what string) error {
	return fmt.Errorf("%w: %s at offset %d", ErrInvalid, what, offset)
}

// errNumberRange is the error for a number beyond the range of a double,
// which some JSON parsers round to the largest double instead.
var errNumberRange = fmt.Errorf("%w: number out of the range of a double", ErrInvalid)

// invalid returns an ErrInvalid error with a message.
func invalid(what string) error {
	return fmt.Errorf("%w: %s", ErrInvalid, what)
}
