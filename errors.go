package hotreload

import (
	"errors"
	"fmt"
	"net/http"
)

// Code classifies an error for callers and for the HTTP API.
type Code string

// Error codes. The table in HTTPStatus maps each to one HTTP status.
const (
	CodeInvalid         Code = "invalid"           // bad input: syntax, schema, validator
	CodeNotFound        Code = "not_found"         // no such version, target, plugin
	CodeConflict        Code = "conflict"          // rolled back, or state forbids it
	CodePrecondition    Code = "precondition"      // stale If-Match
	CodeUnauthorized    Code = "unauthorized"      // no or bad token
	CodeForbidden       Code = "forbidden"         // token lacks the role
	CodeUnavailable     Code = "unavailable"       // shutting down, frozen, sink down
	CodeTooLarge        Code = "too_large"         // request body over the limit
	CodeTooManyRequests Code = "too_many_requests" // refused too often; slow down
	CodeInternal        Code = "internal"          // a bug or an I/O failure
	CodeUnsupportedType Code = "unsupported_type"  // wrong Content-Type
)

var httpStatus = map[Code]int{
	CodeInvalid:         http.StatusUnprocessableEntity,
	CodeNotFound:        http.StatusNotFound,
	CodeConflict:        http.StatusConflict,
	CodePrecondition:    http.StatusPreconditionFailed,
	CodeUnauthorized:    http.StatusUnauthorized,
	CodeForbidden:       http.StatusForbidden,
	CodeUnavailable:     http.StatusServiceUnavailable,
	CodeTooLarge:        http.StatusRequestEntityTooLarge,
	CodeTooManyRequests: http.StatusTooManyRequests,
	CodeInternal:        http.StatusInternalServerError,
	CodeUnsupportedType: http.StatusUnsupportedMediaType,
}

// HTTPStatus is the one table from error codes to HTTP statuses.
func HTTPStatus(c Code) int {
	if s, ok := httpStatus[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Error is the project's one error type: a code, a human message and, for
// validation failures, the precise places that failed.
type Error struct {
	Code    Code         `json:"code"`
	Message string       `json:"message"`
	Details []FieldError `json:"details,omitempty"`
	Err     error        `json:"-"`
}

// Error renders the message and, one per line, each detail.
func (e *Error) Error() string {
	s := e.Message
	for _, d := range e.Details {
		s += "\n" + d.String()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted message. A %w verb
// keeps the cause.
func Errorf(code Code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), Err: errors.Unwrap(err)}
}

// ErrorCode returns the code of the first *Error in err's chain, CodeInternal
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorDetails returns the field errors carried anywhere in err's tree,
// including every branch of an errors.Join.
func ErrorDetails(err error) []FieldError {
	var out []FieldError
	var walk func(error)
	walk = func(err error) {
		switch x := err.(type) {
		case nil:
		case *Error:
			out = append(out, x.Details...)
			walk(x.Err)
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(x.Unwrap())
		}
	}
	walk(err)
	return out
}

// FieldError is one precise problem in a candidate: the file, line and
// column (1-based; 0 when unknown) and the JSON Pointer of the value.
type FieldError struct {
	File    string `json:"file,omitempty"`
	Path    string `json:"path"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
}

// String renders the error as FILE:LINE:COL: PATH: message, leaving out what
// is unknown.
func (f FieldError) String() string {
	s := ""
	if f.File != "" {
		s = f.File
		if f.Line > 0 {
			s += fmt.Sprintf(":%d", f.Line)
			if f.Column > 0 {
				s += fmt.Sprintf(":%d", f.Column)
			}
		}
		s += ": "
	}
	if f.Path != "" {
		s += f.Path + ": "
	}
	return s + f.Message
}
